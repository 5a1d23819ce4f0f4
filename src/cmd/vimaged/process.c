/*
 * vimaged/process — what the process sets up about itself before it serves:
 * the open-file limit (every connection is a descriptor) and the
 * permissions of the data directory (the database holds live upload URLs,
 * the directory the admin token, the TLS key and the registry password).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "vimaged.h"
#include "core/log.h"

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

long vimaged_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t before;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	before = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			vim_log(VIM_LOG_WARN, "open-file limit: cannot raise %llu to %llu: %s",
			        (unsigned long long)before, (unsigned long long)rl.rlim_max,
			        strerror(errno));
			rl.rlim_cur = before;
		}
	}
	vim_log(VIM_LOG_INFO, "open-file limit: %llu (was %llu, hard %llu)",
	        (unsigned long long)rl.rlim_cur, (unsigned long long)before,
	        (unsigned long long)rl.rlim_max);
	return rl.rlim_cur > (rlim_t)1 << 30 ? 1L << 30 : (long)rl.rlim_cur;
}

static int bad; /* nftw has no closure; main runs this once, before threads */

/* Takes group and other bits away and leaves the owner's alone: what
 * vimaged writes (0644, 0755 before the umask) becomes 0600 / 0700, and a
 * --data-dir pointed at the wrong directory loses no owner access. */
static int tighten(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	mode_t want = st->st_mode & 07777 & ~(mode_t)077;

	(void)ftw;
	if (type != FTW_D && type != FTW_DP && type != FTW_F)
		return 0; /* symlinks are not followed; sockets, fifos stay */
	if ((type == FTW_D || type == FTW_DP) && !(want & 0100))
		want |= 0700; /* a directory the owner cannot enter helps nobody */
	if ((st->st_mode & 07777) == want)
		return 0;
	if (chmod(path, want) != 0) {
		vim_log(VIM_LOG_WARN, "data dir: cannot chmod %s to %04o: %s", path, (unsigned)want,
		        strerror(errno));
		bad++;
	}
	return 0;
}

int vimaged_lock_down(const char *dir, struct vim_err *err)
{
	bad = 0;
	if (nftw(dir, tighten, 32, FTW_PHYS) != 0)
		return vim_err_set(err, VIM_EIO, "data dir %s: cannot walk it: %s", dir,
		                   strerror(errno));
	if (bad)
		vim_log(VIM_LOG_WARN, "data dir %s: %d path(s) keep wider permissions", dir, bad);
	return 0;
}
