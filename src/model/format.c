/*
 * model/format — upstream's HumanizeIBytes and percent.Format, byte for byte.
 *
 * Upstream computes the exponent with floating-point logarithms; near exact
 * powers of 1024 that can land one unit low ("1024Ti" for 1 Pi), so the
 * exponent and the rounding to tenths are done here in exact integer
 * arithmetic, which is what the formula means.
 */
#include "model/model.h"

#include <inttypes.h>
#include <stdio.h>

void model_format_ibytes(uint64_t n, char *out, size_t outlen)
{
	static const char *const suffix[] = {"B", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	if (n < 10) {
		snprintf(out, outlen, "%" PRIu64 "B", n);
		return;
	}
	unsigned e = 0;
	uint64_t d = 1; /* 1024^e, the largest power not above n */
	while (e < 6 && n / d >= 1024) {
		d *= 1024;
		e++;
	}
	/* floor(n/d*10 + 0.5) without overflow: r*10 < 10*2^60 fits */
	uint64_t q = n / d, r = n % d;
	uint64_t tenths = q * 10 + (r * 10 + d / 2) / d;
	if (tenths % 10 == 0)
		snprintf(out, outlen, "%" PRIu64 "%s", tenths / 10, suffix[e]);
	else
		snprintf(out, outlen, "%" PRIu64 ".%" PRIu64 "%s", tenths / 10, tenths % 10,
		         suffix[e]);
}

void model_format_percent(double pct, char *out, size_t outlen)
{
	if (pct == 0)
		snprintf(out, outlen, "0%%");
	else if (pct == 100)
		snprintf(out, outlen, "100%%");
	else
		snprintf(out, outlen, "%.1f%%", pct);
}
