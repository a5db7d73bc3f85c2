// Description: the SDK compiles as C++17 -pedantic and its helpers and layout agree with C.
#include <flowring/flowring.h>

#include <cstdio>
#include <cstring>

static int failures;
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

int main()
{
	char p[FLOWRING_PATH_MAX];
	CHECK(sizeof(fr_region_header) == 4096);
	CHECK(sizeof(fr_events_slot) == 256);
	CHECK(offsetof(fr_region_header, head) == 384);
	CHECK(fr_name_valid("-1") == 0);
	CHECK(fr_name_valid("../x") == -EINVAL);
	CHECK(fr_region_path(p, sizeof(p), "/s", "i", "c") == 0 && std::strcmp(p, "/s/flowring.i.client.c") == 0);
	CHECK(std::strcmp(fr_status_str(FR_LAPPED), fr_status_str(FR_AGAIN)) != 0);
	// a zeroed page is not a region: the validator says so instead of crashing
	static unsigned char page[4096] __attribute__((aligned(4096)));
	fr_events_reader r;
	CHECK(fr_events_attach(&r, page, sizeof(page), FR_FROM_LATEST) == FR_BAD_MAGIC);
	return failures ? 1 : 0;
}
