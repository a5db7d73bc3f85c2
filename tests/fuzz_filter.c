/* Description: libFuzzer target for the filter parser: any text either parses or fails with a message quoting it; never crashes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char err[256];
	struct fr_filter *f;
	struct fr_conn c;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	f = fr_filter_new();
	if (f) {
		err[0] = '\0';
		int side = size ? data[0] & 1 : 0;
		int rc = fr_filter_parse(f, side ? FR_FILTER_DST : FR_FILTER_SRC, text, err, sizeof(err));
		if (rc != 0 && (err[0] == '\0' || rc != -EINVAL))
			abort(); /* every reject explains itself */
		if (rc == 0 && fr_filter_count(f, side ? FR_FILTER_DST : FR_FILTER_SRC) == 0)
			abort(); /* success adds at least one entry */
		/* exercise the matcher with a record built from the input */
		memset(&c, 0, sizeof(c));
		memcpy(&c, data, size < sizeof(c) ? size : sizeof(c));
		c.family &= 1;
		(void)fr_filter_match(f, &c);
		fr_filter_free(f);
	}
	free(text);
	return 0;
}
