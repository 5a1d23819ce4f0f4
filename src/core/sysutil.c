/* core/sysutil — see sysutil.h. */
#include "core/sysutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int vim_file_replace(const char *path, const char *text, mode_t mode, struct vim_err *err)
{
	char tmp[4200];
	FILE *f;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return vim_err_set(err, VIM_EINVAL, "%s: the path is too long", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0 ||
	    !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return vim_err_set(err, VIM_EIO, "cannot write %s: %s", tmp, strerror(errno));
	}
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return vim_err_set(err, VIM_EIO, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

int vim_file_first_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	int ok;

	out[0] = '\0';
	if (!f)
		return -1;
	ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	if (!ok) {
		out[0] = '\0';
		return -1;
	}
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

int vim_random_hex(char *out, size_t bytes, struct vim_err *err)
{
	unsigned char raw[64];
	size_t i;

	if (bytes == 0 || bytes > sizeof(raw))
		return vim_err_set(err, VIM_EINVAL, "random: %zu bytes asked, 1..64 allowed",
		                   bytes);
	if (getrandom(raw, bytes, 0) != (ssize_t)bytes)
		return vim_err_set(err, VIM_EIO, "no random bytes: %s", strerror(errno));
	for (i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

uint64_t vim_str_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}
