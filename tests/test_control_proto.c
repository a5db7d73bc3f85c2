/* Description: control protocol codec - round trips of every request and reply (REGISTER with and without its
 * publish interval), list continuation, and one distinct rejection code for each kind of malformed, truncated, oversized or unknown message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "control_proto.h"

static uint8_t buf[FR_CTL_MSG_MAX + 64];

static void test_requests_round_trip(void **state)
{
	struct fr_ctl_msg m;
	(void)state;

	for (uint8_t t = FR_CTL_PING; t <= FR_CTL_REQ_LAST; t++) {
		const char *id = fr_ctl_type_has_client_id(t) ? "agent-7" : NULL;
		int n = fr_ctl_encode_request(buf, sizeof(buf), t, 1000u + t, id);
		assert_true(n >= (int)FR_CTL_HDR_SIZE);
		assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
		assert_int_equal(m.hdr.type, t);
		assert_int_equal(m.hdr.req_id, 1000u + t);
		assert_int_equal(m.hdr.flags, 0);
		if (id)
			assert_string_equal(m.u.client_id, id);
	}
	/* the debug client id of the seed */
	int n = fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_DUMP, 1, "-1");
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_string_equal(m.u.client_id, "-1");
}

static void test_header_is_little_endian_at_fixed_offsets(void **state)
{
	(void)state;
	int n = fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REGISTER, 0x01020304u, "ab");
	static const uint8_t want[] = {'F', 'R', 'C', 'T', 1, FR_CTL_REGISTER, 0, 0, 4, 3, 2, 1, 3, 0, 0, 0, 2, 'a', 'b'};
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_register_round_trips_with_and_without_publish_interval(void **state)
{
	static const uint64_t ok[] = {0, FR_CTL_PUBLISH_INTERVAL_MIN_MS, 250, FR_CTL_PUBLISH_INTERVAL_MAX_MS};
	struct fr_ctl_msg m;
	int n;
	(void)state;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		n = fr_ctl_encode_register(buf, sizeof(buf), 31, "agent-7", &ok[i]);
		assert_int_equal(n, FR_CTL_HDR_SIZE + 1 + 7 + 8);
		assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
		assert_int_equal(m.hdr.type, FR_CTL_REGISTER);
		assert_int_equal(m.hdr.req_id, 31);
		assert_string_equal(m.u.client_id, "agent-7");
		assert_int_equal(m.has_publish_interval, 1);
		assert_int_equal(m.publish_interval_ms, ok[i]);
	}
	/* without: the old request, byte for byte, and the decoder says "not given" */
	n = fr_ctl_encode_register(buf, sizeof(buf), 32, "agent-7", NULL);
	uint8_t old[64];
	assert_int_equal(fr_ctl_encode_request(old, sizeof(old), FR_CTL_REGISTER, 32, "agent-7"), n);
	assert_memory_equal(buf, old, (size_t)n);
	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.has_publish_interval, 0);
	assert_int_equal(m.publish_interval_ms, 0);
	assert_string_equal(m.u.client_id, "agent-7");
	/* other requests never report an interval */
	n = fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_SNAPSHOT, 33, "agent-7");
	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.has_publish_interval, 0);
}

static void test_register_interval_is_a_u64_le_after_the_id(void **state)
{
	(void)state;
	uint64_t ms = 0x0000000004030201ull; /* 67305985 ms: within a day, its low bytes distinct */
	int n = fr_ctl_encode_register(buf, sizeof(buf), 0x01020304u, "ab", &ms);
	static const uint8_t want[] = {'F', 'R', 'C', 'T', 1, FR_CTL_REGISTER, 0, 0, 4, 3, 2, 1, 11, 0, 0, 0,
				       2, 'a', 'b', 1, 2, 3, 4, 0, 0, 0, 0};
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_register_interval_rejections(void **state)
{
	struct fr_ctl_msg m;
	uint64_t ms = 250;
	int n;
	(void)state;

	/* out of bounds: 1..9 ms and more than a day; the encoder refuses them too */
	static const uint64_t bad[] = {1, FR_CTL_PUBLISH_INTERVAL_MIN_MS - 1, FR_CTL_PUBLISH_INTERVAL_MAX_MS + 1,
				       UINT64_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fr_ctl_encode_register(buf, sizeof(buf), 1, "abc", &bad[i]), -EINVAL);
		assert_int_equal(fr_ctl_check_publish_interval(bad[i]), -FR_CTL_E_BAD_PAYLOAD);
		n = fr_ctl_encode_register(buf, sizeof(buf), 1, "abc", &ms);
		for (int k = 0; k < 8; k++)
			buf[n - 8 + k] = (uint8_t)(bad[i] >> (8 * k));
		assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_PAYLOAD);
	}
	/* any trailing length other than 0 or 8 after the id */
	for (unsigned extra = 1; extra <= 9; extra++) {
		if (extra == 8)
			continue;
		n = fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REGISTER, 1, "abc");
		memset(buf + n, 0, extra); /* zeros: also a valid interval (0) at 8 */
		buf[12] = (uint8_t)(4 + extra);
		assert_int_equal(fr_ctl_decode(buf, (size_t)n + extra, &m), -FR_CTL_E_BAD_PAYLOAD);
	}
	n = fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REGISTER, 1, "abc");
	memset(buf + n, 0, 8);
	buf[12] = 4 + 8;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n + 8, &m), 0); /* the control: 8 zero bytes are interval 0 */
	assert_int_equal(m.has_publish_interval, 1);
	/* only REGISTER may carry it: the same 8 bytes after an UNREGISTER, SNAPSHOT or DUMP id */
	static const uint8_t others[] = {FR_CTL_UNREGISTER, FR_CTL_SNAPSHOT, FR_CTL_DUMP};
	for (size_t i = 0; i < sizeof(others); i++) {
		n = fr_ctl_encode_request(buf, sizeof(buf), others[i], 1, "abc");
		memset(buf + n, 0, 8);
		buf[12] = 4 + 8;
		assert_int_equal(fr_ctl_decode(buf, (size_t)n + 8, &m), -FR_CTL_E_BAD_PAYLOAD);
	}
	/* the id's own checks still come first, and the length byte must still match the id */
	n = fr_ctl_encode_register(buf, sizeof(buf), 1, "abc", &ms);
	buf[17] = '/';
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_CLIENT_ID);
	n = fr_ctl_encode_register(buf, sizeof(buf), 1, "abc", &ms);
	buf[16] = 5; /* the id would swallow 2 bytes of the interval, leaving 6 */
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_PAYLOAD);
	/* encoder: bad id, and no room */
	assert_int_equal(fr_ctl_encode_register(buf, sizeof(buf), 1, "a/b", &ms), -EINVAL);
	assert_int_equal(fr_ctl_encode_register(buf, sizeof(buf), 1, NULL, &ms), -EINVAL);
	assert_int_equal(fr_ctl_encode_register(buf, FR_CTL_HDR_SIZE + 1 + 3 + 7, 1, "abc", &ms), -ENOSPC);
	assert_int_equal(fr_ctl_encode_register(buf, FR_CTL_HDR_SIZE + 1 + 3 + 8, 1, "abc", &ms),
			 FR_CTL_HDR_SIZE + 1 + 3 + 8);
}

static void test_fixed_replies_round_trip(void **state)
{
	struct fr_ctl_msg m;
	struct fr_ctl_ping_reply p = {.pid = 4242, .proto_version = FR_CTL_VERSION, .uptime_ms = 1ull << 40};
	struct fr_ctl_register_reply r = {.generation = 77, .created = 1};
	struct fr_ctl_snapshot_reply s = {.generation = 3, .seq = 0xfffffffffull, .slot = 2, .records = 100000};
	int n;
	(void)state;

	n = fr_ctl_encode_ping_reply(buf, sizeof(buf), 9, &p);
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.hdr.type, FR_CTL_REPLY | FR_CTL_PING);
	assert_memory_equal(&m.u.ping, &p, sizeof(p));
	n = fr_ctl_encode_register_reply(buf, sizeof(buf), 10, &r);
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.u.reg.generation, 77);
	assert_int_equal(m.u.reg.created, 1);
	n = fr_ctl_encode_snapshot_reply(buf, sizeof(buf), 11, &s);
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.u.snap.generation, 3);
	assert_int_equal(m.u.snap.seq, 0xfffffffffull);
	assert_int_equal(m.u.snap.slot, 2);
	assert_int_equal(m.u.snap.records, 100000);
	n = fr_ctl_encode_empty_reply(buf, sizeof(buf), FR_CTL_UNREGISTER, 12);
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.hdr.type, FR_CTL_REPLY | FR_CTL_UNREGISTER);
	assert_int_equal(fr_ctl_encode_empty_reply(buf, sizeof(buf), FR_CTL_PING, 1), -EINVAL);
	n = fr_ctl_encode_error(buf, sizeof(buf), 13, FR_CTL_E_NO_CLIENT, ENOENT, "no client 'x'\n");
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.hdr.type, FR_CTL_ERROR);
	assert_int_equal(m.hdr.req_id, 13);
	assert_int_equal(m.u.err.code, FR_CTL_E_NO_CLIENT);
	assert_int_equal(m.u.err.err, ENOENT);
	assert_string_equal(m.u.err.msg, "no client 'x'?");
}

static void test_list_replies_continue_across_messages(void **state)
{
	struct fr_ctl_list_builder b;
	struct fr_ctl_msg m;
	struct fr_ctl_dump_item in = {.sent = 1, .recv = 2, .retransmits = 3}, out;
	uint32_t added = 0, seen = 0, messages = 0;
	bool done = false;
	(void)state;

	/* 200 keys of ~100 bytes do not fit one message: the builder says -ENOSPC, we continue */
	while (!done) {
		fr_ctl_list_begin(&b, buf, sizeof(buf), FR_CTL_DUMP, 5);
		for (;;) {
			if (added == 200) {
				done = true;
				break;
			}
			snprintf(in.key, sizeof(in.key), "p:%u|src:10.0.0.1:%u|dst:10.0.0.2:80|f:0|t:0%070u", added,
				 added, 0u);
			in.sent = added;
			int rc = fr_ctl_list_add_dump(&b, &in);
			if (rc == -ENOSPC)
				break;
			assert_int_equal(rc, 0);
			added++;
		}
		int n = fr_ctl_list_finish(&b, !done);
		assert_true(n <= (int)FR_CTL_MSG_MAX);
		assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
		assert_int_equal(!!(m.hdr.flags & FR_CTL_F_MORE), !done);
		messages++;
		struct fr_ctl_list_iter it;
		fr_ctl_list_iter_init(&it, &m);
		while (fr_ctl_list_next_dump(&it, &out)) {
			assert_int_equal(out.sent, seen);
			assert_int_equal(out.recv, 2);
			assert_int_equal(out.retransmits, 3);
			seen++;
		}
	}
	assert_int_equal(seen, 200);
	assert_true(messages > 1);

	fr_ctl_list_begin(&b, buf, sizeof(buf), FR_CTL_STATS, 6);
	assert_int_equal(fr_ctl_list_add_stat(&b, "closed_dropped", 12), 0);
	assert_int_equal(fr_ctl_list_add_stat(&b, "has space", 1), -EINVAL);
	assert_int_equal(fr_ctl_list_add_dump(&b, &in), -EINVAL); /* wrong kind for a STATS reply */
	int n = fr_ctl_list_finish(&b, false);
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	struct fr_ctl_list_iter it;
	struct fr_ctl_stat_item st;
	fr_ctl_list_iter_init(&it, &m);
	assert_int_equal(fr_ctl_list_next_stat(&it, &st), 1);
	assert_string_equal(st.name, "closed_dropped");
	assert_int_equal(st.value, 12);
	assert_int_equal(fr_ctl_list_next_stat(&it, &st), 0);

	struct fr_ctl_client_item ci = {.id = "c1", .keys = 4, .closed = 5, .idle_ms = 6}, co;
	fr_ctl_list_begin(&b, buf, sizeof(buf), FR_CTL_CLIENTS, 7);
	assert_int_equal(fr_ctl_list_add_client(&b, &ci), 0);
	n = fr_ctl_list_finish(&b, false);
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	fr_ctl_list_iter_init(&it, &m);
	assert_int_equal(fr_ctl_list_next_stat(&it, &st), 0); /* wrong kind */
	assert_int_equal(fr_ctl_list_next_client(&it, &co), 1);
	assert_string_equal(co.id, "c1");
	assert_int_equal(co.keys, 4);
	assert_int_equal(co.closed, 5);
	assert_int_equal(co.idle_ms, 6);
}

static void test_each_malformation_has_its_own_code(void **state)
{
	struct fr_ctl_msg m;
	uint8_t big[FR_CTL_MSG_MAX + 1];
	int n;
	(void)state;

	n = fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REGISTER, 77, "abc");
	/* truncated: short of a header, and short of the declared payload */
	assert_int_equal(fr_ctl_decode(buf, 0, &m), -FR_CTL_E_TRUNCATED);
	assert_int_equal(fr_ctl_decode(buf, FR_CTL_HDR_SIZE - 1, &m), -FR_CTL_E_TRUNCATED);
	assert_int_equal(fr_ctl_decode(buf, (size_t)n - 1, &m), -FR_CTL_E_TRUNCATED);
	assert_int_equal(m.hdr.req_id, 77); /* the error reply can still name the request */
	/* trailing bytes */
	assert_int_equal(fr_ctl_decode(buf, (size_t)n + 1, &m), -FR_CTL_E_TRAILING);
	/* oversized */
	memset(big, 0, sizeof(big));
	memcpy(big, buf, (size_t)n);
	assert_int_equal(fr_ctl_decode(big, sizeof(big), &m), -FR_CTL_E_OVERSIZED);
	/* magic, version */
	buf[0] ^= 1;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_MAGIC);
	buf[0] ^= 1;
	buf[4] = 2;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_VERSION);
	buf[4] = 1;
	/* unknown types */
	buf[5] = 0;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_UNKNOWN_TYPE);
	buf[5] = FR_CTL_REQ_LAST + 1;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_UNKNOWN_TYPE);
	buf[5] = FR_CTL_REPLY | 0x40;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_UNKNOWN_TYPE);
	buf[5] = FR_CTL_REGISTER;
	/* flags: unknown bit, and MORE on a request */
	buf[7] = 0x80;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_FLAGS);
	buf[7] = 0;
	buf[6] = FR_CTL_F_MORE;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_FLAGS);
	buf[6] = 0;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	/* client id length byte disagrees with the payload */
	buf[16] = 4;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_PAYLOAD);
	buf[16] = 3;
	/* client id content */
	buf[17] = '/';
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_CLIENT_ID);
	buf[17] = '.';
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_CLIENT_ID);
	buf[17] = 0;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_CLIENT_ID);
	buf[17] = ' ';
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_CLIENT_ID);
	/* a PING with a payload */
	n = fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_PING, 1, NULL);
	buf[12] = 1;
	buf[16] = 0;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n + 1, &m), -FR_CTL_E_BAD_PAYLOAD);
	/* a list whose count promises more items than it has */
	struct fr_ctl_list_builder b;
	fr_ctl_list_begin(&b, buf, sizeof(buf), FR_CTL_STATS, 1);
	assert_int_equal(fr_ctl_list_add_stat(&b, "a", 1), 0);
	n = fr_ctl_list_finish(&b, false);
	buf[16] = 2;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_PAYLOAD);
	/* error replies with a code out of range */
	n = fr_ctl_encode_error(buf, sizeof(buf), 1, FR_CTL_E_PERM, 0, "x");
	buf[16] = FR_CTL_E__COUNT;
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), -FR_CTL_E_BAD_PAYLOAD);
	assert_int_equal(fr_ctl_encode_error(buf, sizeof(buf), 1, FR_CTL_OK, 0, "x"), -EINVAL);
}

static void test_encoders_refuse_what_would_not_decode(void **state)
{
	(void)state;
	assert_int_equal(fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REGISTER, 1, NULL), -EINVAL);
	assert_int_equal(fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REGISTER, 1, ""), -EINVAL);
	assert_int_equal(fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REGISTER, 1, "a/b"), -EINVAL);
	assert_int_equal(fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REGISTER, 1,
					       "0123456789abcdef0123456789abcdefX"),
			 -EINVAL);
	assert_int_equal(fr_ctl_encode_request(buf, sizeof(buf), 0, 1, NULL), -EINVAL);
	assert_int_equal(fr_ctl_encode_request(buf, sizeof(buf), FR_CTL_REPLY | FR_CTL_PING, 1, NULL), -EINVAL);
	assert_int_equal(fr_ctl_encode_request(buf, 10, FR_CTL_PING, 1, NULL), -ENOSPC);
	assert_int_equal(fr_ctl_encode_request(buf, 18, FR_CTL_REGISTER, 1, "abc"), -ENOSPC);
	assert_string_equal(fr_ctl_strerror(-FR_CTL_E_PERM), fr_ctl_strerror(FR_CTL_E_PERM));
	assert_string_equal(fr_ctl_strerror(999), "unknown error code");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_round_trip),
		cmocka_unit_test(test_header_is_little_endian_at_fixed_offsets),
		cmocka_unit_test(test_register_round_trips_with_and_without_publish_interval),
		cmocka_unit_test(test_register_interval_is_a_u64_le_after_the_id),
		cmocka_unit_test(test_register_interval_rejections),
		cmocka_unit_test(test_fixed_replies_round_trip),
		cmocka_unit_test(test_list_replies_continue_across_messages),
		cmocka_unit_test(test_each_malformation_has_its_own_code),
		cmocka_unit_test(test_encoders_refuse_what_would_not_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
