/* The tar headers of the DVCR layer: ustar fields, checksum, PAX for
 * sizes of 8 GiB and more and for long names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dvcr/image.h"

static unsigned checksum_of(const unsigned char *h)
{
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum;
}

static void test_ustar_file_header(void **state)
{
	unsigned char h[512];
	(void)state;

	dvcr_tar_header(h, "disk/noble.qcow2", 0644, 3145851, '0');
	assert_string_equal((char *)h, "disk/noble.qcow2");
	assert_string_equal((char *)h + 100, "0000644");
	assert_string_equal((char *)h + 108, "0176027"); /* 64535 */
	assert_string_equal((char *)h + 116, "0176027");
	assert_string_equal((char *)h + 124, "00014000173"); /* 3145851 */
	assert_string_equal((char *)h + 136, "00000000000");
	assert_int_equal(h[156], '0');
	assert_memory_equal(h + 257,
	                    "ustar\0"
	                    "00",
	                    8);
	assert_int_equal(strtoul((char *)h + 148, NULL, 8), checksum_of(h));
	dvcr_tar_header(h, "disk", 0755, 0, '5');
	assert_int_equal(h[156], '5');
	assert_string_equal((char *)h + 100, "0000755");
}

static void test_pax_for_large_sizes_and_long_names(void **state)
{
	unsigned char pax[1024];
	char name[160];
	const char *rec;
	(void)state;

	assert_int_equal(dvcr_tar_pax(pax, "disk/a.img", 1000), 0); /* ustar suffices */
	assert_int_equal(dvcr_tar_pax(pax, "disk/a.img", 10737418240ULL), 1024);
	assert_int_equal(pax[156], 'x');
	rec = (const char *)pax + 512;
	assert_string_equal(rec, "20 size=10737418240\n"); /* the length counts itself */
	assert_int_equal(strtoull((char *)pax + 124, NULL, 8), strlen(rec));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memcpy(name, "disk/", 5);
	assert_int_equal(dvcr_tar_pax(pax, name, 10), 1024);
	rec = (const char *)pax + 512;
	assert_int_equal(strtoul(rec, NULL, 10), strlen(rec));
	assert_non_null(strstr(rec, " path=disk/nnn"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ustar_file_header),
	    cmocka_unit_test(test_pax_for_large_sizes_and_long_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
