/* Description: libFuzzer target for the control protocol decoder - never reads out of bounds, and every message it
 * accepts re-encodes to the same bytes (the format is canonical) and iterates to exactly its item count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"

static void fr_fuzz_check(int ok)
{
	if (!ok)
		abort();
}

/* Re-encode a decoded message; returns the length, or -1 when the type has no single-shot encoder. */
static int fr_fuzz_reencode(const struct fr_ctl_msg *m, uint8_t *out)
{
	uint8_t t = m->hdr.type;
	uint8_t rt = (uint8_t)(t & ~FR_CTL_REPLY);

	if (t == FR_CTL_ERROR)
		return fr_ctl_encode_error(out, FR_CTL_MSG_MAX, m->hdr.req_id, m->u.err.code, m->u.err.err, m->u.err.msg);
	if (t == FR_CTL_REGISTER)
		return fr_ctl_encode_register(out, FR_CTL_MSG_MAX, m->hdr.req_id, m->u.client_id,
					      m->has_publish_interval ? &m->publish_interval_ms : NULL);
	fr_fuzz_check(!m->has_publish_interval); /* only REGISTER carries it */
	if (!(t & FR_CTL_REPLY))
		return fr_ctl_encode_request(out, FR_CTL_MSG_MAX, t, m->hdr.req_id,
					     fr_ctl_type_has_client_id(t) ? m->u.client_id : NULL);
	switch (rt) {
	case FR_CTL_PING:
		return fr_ctl_encode_ping_reply(out, FR_CTL_MSG_MAX, m->hdr.req_id, &m->u.ping);
	case FR_CTL_REGISTER:
		return fr_ctl_encode_register_reply(out, FR_CTL_MSG_MAX, m->hdr.req_id, &m->u.reg);
	case FR_CTL_SNAPSHOT:
		return fr_ctl_encode_snapshot_reply(out, FR_CTL_MSG_MAX, m->hdr.req_id, &m->u.snap);
	case FR_CTL_UNREGISTER:
		return fr_ctl_encode_empty_reply(out, FR_CTL_MSG_MAX, rt, m->hdr.req_id);
	default:
		break;
	}
	/* lists: rebuild item by item */
	struct fr_ctl_list_builder b;
	struct fr_ctl_list_iter it;
	struct fr_ctl_stat_item s;
	struct fr_ctl_client_item c;
	struct fr_ctl_dump_item d;
	uint32_t n = 0;

	fr_ctl_list_begin(&b, out, FR_CTL_MSG_MAX, rt, m->hdr.req_id);
	fr_ctl_list_iter_init(&it, m);
	if (rt == FR_CTL_STATS)
		for (; fr_ctl_list_next_stat(&it, &s); n++)
			fr_fuzz_check(fr_ctl_list_add_stat(&b, s.name, s.value) == 0);
	else if (rt == FR_CTL_CLIENTS)
		for (; fr_ctl_list_next_client(&it, &c); n++)
			fr_fuzz_check(fr_ctl_list_add_client(&b, &c) == 0);
	else
		for (; fr_ctl_list_next_dump(&it, &d); n++)
			fr_fuzz_check(fr_ctl_list_add_dump(&b, &d) == 0);
	fr_fuzz_check(n == m->u.list.count);
	return fr_ctl_list_finish(&b, m->hdr.flags & FR_CTL_F_MORE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[FR_CTL_MSG_MAX];
	struct fr_ctl_msg m;
	/* a private heap copy so ASan sees the exact bounds of the message */
	uint8_t *copy;
	int rc, n;

	/* Mode byte: odd = the input is everything after magic and version (so mutations reach the payload
	 * checks instead of dying at the magic); bit 1 also fixes the length field to match. Even = raw bytes. */
	if (size > 0 && (data[0] & 1)) {
		size_t body = size - 1;
		copy = malloc(5 + body);
		if (!copy)
			return 0;
		memcpy(copy, "FRCT\x01", 5);
		memcpy(copy + 5, data + 1, body);
		size = 5 + body;
		if ((data[0] & 2) && size >= FR_CTL_HDR_SIZE) {
			uint32_t len = (uint32_t)(size - FR_CTL_HDR_SIZE);
			for (int i = 0; i < 4; i++)
				copy[12 + i] = (uint8_t)(len >> (8 * i));
		}
	} else {
		copy = malloc(size ? size : 1);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
	}
	rc = fr_ctl_decode(copy, size, &m);
	fr_fuzz_check(rc <= 0 && rc > -FR_CTL_E__COUNT);
	if (rc == 0) {
		n = fr_fuzz_reencode(&m, out);
		fr_fuzz_check(n == (int)size && memcmp(out, copy, size) == 0);
	}
	free(copy);
	return 0;
}
