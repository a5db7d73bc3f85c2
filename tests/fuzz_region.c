/* Description: libFuzzer target for the SDK's region validator and the readers behind it: any
 * bytes presented as an events or snapshot region give a status, never a crash or a hang. */
#include <flowring/flowring.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The SDK reads regions from page-aligned mappings: give it the same alignment. */
static unsigned char region[1u << 20] __attribute__((aligned(4096)));

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fr_events_reader r;
	struct fr_snapshot_reader s;
	struct fr_snapshot_view v;
	const struct fr_conn *c;
	struct fr_conn copy;
	static struct fr_conn out[64];
	char name[FR_TELEMETRY_NAME_LEN];
	uint64_t value;

	if (size > sizeof(region))
		size = sizeof(region);
	memcpy(region, data, size);
	/* half the inputs get a valid magic and major so the fuzzer reaches the geometry checks */
	if (size >= 16 && (data[0] & 1)) {
		uint64_t magic = FR_REGION_MAGIC;
		uint16_t major = FR_ABI_MAJOR;
		memcpy(region, &magic, sizeof(magic));
		memcpy(region + 8, &major, sizeof(major));
	}
	if (fr_events_attach(&r, region, size, (data[0] & 2) ? FR_FROM_OLDEST : FR_FROM_LATEST) == FR_OK) {
		for (int i = 0; i < 8; i++) {
			if (fr_events_next(&r, &c) == FR_OK && c->pid != 0xffffffffu)
				(void)fr_events_check(&r);
			(void)fr_events_read(&r, &copy);
		}
		for (uint32_t i = 0; i < fr_events_telemetry_count(&r) && i < 300; i++)
			(void)fr_events_telemetry(&r, i, name, &value);
	}
	if (fr_snapshot_attach(&s, region, size) == FR_OK) {
		if (fr_snapshot_latest(&s, &v) == FR_OK && v.count > 0)
			value = v.records[v.count - 1].pid;
		(void)fr_snapshot_copy(&s, out, 64, &v);
	}
	return 0;
}
