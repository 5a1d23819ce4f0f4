/*
 * core/redact — URLs made safe to print.  A source URL may carry a
 * credential in two places: its userinfo ("http://user:pw@host/",
 * "https://TOKEN@host/") and its query (presigned URLs: X-Amz-Signature,
 * X-Amz-Security-Token, X-Goog-Signature, Azure's sig=, ...).  Every URL
 * that reaches a log line, a condition, an event or an error message goes
 * through here first:
 *
 *   http://user:pw@host:80/a/b.img?X-Amz-Signature=abc&x=1#f
 * becomes, M being the mask "***",
 *   http://M@host:80/a/b.img?X-Amz-Signature=M&x=M#f
 *
 * The whole userinfo goes, not only the password (as Go's URL.Redacted
 * keeps the user): a lone userinfo is often the token itself.  Every query
 * value goes, not a list of known names: no list keeps up with every
 * signer, and the parameter names still tell which URL it was.
 */
#ifndef VIM_CORE_REDACT_H
#define VIM_CORE_REDACT_H

#include <stddef.h>

/* Copies text into out (cap bytes, always terminated; cut if it does not
 * fit), redacting every "scheme://..." URL in it as above.  text may be a
 * single URL or a message that quotes some.  Returns out. */
char *vim_redact(char *out, size_t cap, const char *text);

/* The same in place: s is a terminated string in a buffer of cap bytes. */
void vim_redact_inplace(char *s, size_t cap);

#endif
