#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	int code;
	const char *name;
	int http;
	const char *reason;
} code_table[] = {
    {VIM_OK, "OK", 200, ""},
    {VIM_EINVAL, "EINVAL", 422, "Invalid"},
    {VIM_ENOTFOUND, "ENOTFOUND", 404, "NotFound"},
    {VIM_EEXIST, "EEXIST", 409, "AlreadyExists"},
    {VIM_ECONFLICT, "ECONFLICT", 409, "Conflict"},
    {VIM_EGONE, "EGONE", 410, "Expired"}, /* kube's NewResourceExpired */
    {VIM_ETOOLARGE, "ETOOLARGE", 413, "RequestEntityTooLarge"},
    {VIM_EUNSUPPORTED, "EUNSUPPORTED", 422, "Invalid"},
    {VIM_EAUTH, "EAUTH", 401, "Unauthorized"},
    {VIM_EFORBIDDEN, "EFORBIDDEN", 422, "Invalid"},
    {VIM_EIO, "EIO", 500, "InternalError"},
    {VIM_EUPSTREAM, "EUPSTREAM", 502, "InternalError"},
    {VIM_ENOMEM, "ENOMEM", 500, "InternalError"},
    {VIM_ECANCELED, "ECANCELED", 500, "InternalError"},
    {VIM_ETIMEDOUT, "ETIMEDOUT", 504, "Timeout"},
    {VIM_EUNAVAILABLE, "EUNAVAILABLE", 503, "ServiceUnavailable"},
    {VIM_EFENCED, "EFENCED", 503, "ServiceUnavailable"}, /* this replica no longer leads */
    {VIM_EINTERNAL, "EINTERNAL", 500, "InternalError"},
};

static size_t code_index(int code)
{
	for (size_t i = 0; i < sizeof(code_table) / sizeof(code_table[0]); i++)
		if (code_table[i].code == code)
			return i;
	return sizeof(code_table) / sizeof(code_table[0]) - 1; /* EINTERNAL */
}

int vim_err_set(struct vim_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int vim_err_wrap(struct vim_err *err, const char *fmt, ...)
{
	if (!err)
		return VIM_EINTERNAL;
	char prefix[VIM_ERR_MSG_MAX];
	char old[VIM_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* prefix, then as much of the old message as still fits */
	size_t np = strnlen(prefix, sizeof(err->msg) - 1);
	size_t no = strnlen(old, sizeof(old) - 1);
	if (np + no > sizeof(err->msg) - 1)
		no = sizeof(err->msg) - 1 - np;
	memcpy(err->msg, prefix, np);
	memcpy(err->msg + np, old, no);
	err->msg[np + no] = '\0';
	return err->code;
}

void vim_err_clear(struct vim_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const char *vim_code_name(int code)
{
	return code_table[code_index(code)].name;
}

int vim_code_http_status(int code)
{
	return code_table[code_index(code)].http;
}

const char *vim_code_k8s_reason(int code)
{
	return code_table[code_index(code)].reason;
}
