/* control_proto.c - see control_proto.h. Every read goes through a bounds-checked cursor, so a decoder
 * bug can only reject a message, never read past it (the fuzz target checks this under ASan). */
#include "control_proto.h"

#include <errno.h>
#include <string.h>

struct fr_cur {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

static uint64_t fr_get(struct fr_cur *c, unsigned n)
{
	uint64_t v = 0;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

/* Read a u8-length string into out (cap >= max + 1). printable_space: spaces allowed (error text). */
static void fr_get_str(struct fr_cur *c, char *out, unsigned max, bool spaces)
{
	unsigned n = (unsigned)fr_get(c, 1);

	if (c->bad || n == 0 || n > max || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t ch = c->p[i];
		if (ch < 0x20 || ch > 0x7e || (!spaces && ch == ' ')) {
			c->bad = true;
			return;
		}
		out[i] = (char)ch;
	}
	out[n] = '\0';
	c->p += n;
}

static void fr_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int fr_ctl_check_publish_interval(uint64_t ms)
{
	if (ms == 0 || (ms >= FR_CTL_PUBLISH_INTERVAL_MIN_MS && ms <= FR_CTL_PUBLISH_INTERVAL_MAX_MS))
		return 0;
	return -FR_CTL_E_BAD_PAYLOAD;
}

bool fr_ctl_type_has_client_id(uint8_t type)
{
	return type == FR_CTL_REGISTER || type == FR_CTL_UNREGISTER || type == FR_CTL_SNAPSHOT || type == FR_CTL_DUMP;
}

bool fr_ctl_type_is_list(uint8_t type)
{
	return type == FR_CTL_STATS || type == FR_CTL_CLIENTS || type == FR_CTL_DUMP;
}

int fr_ctl_check_client_id(const char *id)
{
	size_t n = strnlen(id, FR_CTL_ID_MAX + 1);

	if (n == 0 || n > FR_CTL_ID_MAX || id[0] == '.')
		return -FR_CTL_E_BAD_CLIENT_ID;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)id[i] <= 0x20 || (uint8_t)id[i] > 0x7e || id[i] == '/')
			return -FR_CTL_E_BAD_CLIENT_ID;
	return 0;
}

const char *fr_ctl_strerror(int code)
{
	static const char *const s[FR_CTL_E__COUNT] = {
		[FR_CTL_OK] = "ok",
		[FR_CTL_E_TRUNCATED] = "truncated message",
		[FR_CTL_E_OVERSIZED] = "message larger than 4096 bytes",
		[FR_CTL_E_BAD_MAGIC] = "not a flowring control message (bad magic)",
		[FR_CTL_E_BAD_VERSION] = "unsupported protocol version",
		[FR_CTL_E_UNKNOWN_TYPE] = "unknown message type",
		[FR_CTL_E_BAD_FLAGS] = "invalid flags",
		[FR_CTL_E_TRAILING] = "bytes after the payload",
		[FR_CTL_E_BAD_PAYLOAD] = "malformed payload",
		[FR_CTL_E_BAD_CLIENT_ID] = "invalid client id",
		[FR_CTL_E_PERM] = "permission denied (root or the flowring group only)",
		[FR_CTL_E_BUSY] = "too many control connections",
		[FR_CTL_E_NO_CLIENT] = "no such client",
		[FR_CTL_E_LIMIT] = "too many clients registered",
		[FR_CTL_E_INTERNAL] = "internal daemon error",
		[FR_CTL_E_UNSUPPORTED] = "request not supported",
	};
	if (code < 0)
		code = -code;
	return code < FR_CTL_E__COUNT && s[code] ? s[code] : "unknown error code";
}

static bool fr_ctl_type_known(uint8_t t)
{
	if (t == FR_CTL_ERROR)
		return true;
	if (t & FR_CTL_REPLY)
		t &= (uint8_t)~FR_CTL_REPLY;
	return t >= FR_CTL_PING && t <= FR_CTL_REQ_LAST;
}

/* Validate list items of reply type rt; returns false on any malformed item. */
static bool fr_ctl_list_valid(struct fr_cur *c, uint8_t rt, uint32_t count)
{
	char s[FR_CTL_KEY_MAX + 1];

	for (uint32_t i = 0; i < count && !c->bad; i++) {
		switch (rt) {
		case FR_CTL_STATS:
			fr_get_str(c, s, FR_CTL_NAME_MAX, false);
			fr_get(c, 8);
			break;
		case FR_CTL_CLIENTS:
			fr_get_str(c, s, FR_CTL_ID_MAX, false);
			if (!c->bad && fr_ctl_check_client_id(s))
				return false;
			fr_get(c, 8);
			fr_get(c, 8);
			fr_get(c, 8);
			break;
		default: /* FR_CTL_DUMP */
			fr_get_str(c, s, FR_CTL_KEY_MAX, false);
			fr_get(c, 8);
			fr_get(c, 8);
			fr_get(c, 8);
			break;
		}
	}
	return !c->bad;
}

int fr_ctl_decode(const void *buf, size_t len, struct fr_ctl_msg *out)
{
	struct fr_cur c = {.p = buf, .end = (const uint8_t *)buf + len};
	struct fr_ctl_hdr *h = &out->hdr;
	uint8_t rt;

	memset(out, 0, sizeof(*out));
	if (len > FR_CTL_MSG_MAX)
		len = FR_CTL_MSG_MAX + 1; /* still read the header for req_id */
	if (len >= FR_CTL_HDR_SIZE) {
		h->magic = (uint32_t)fr_get(&c, 4);
		h->version = (uint8_t)fr_get(&c, 1);
		h->type = (uint8_t)fr_get(&c, 1);
		h->flags = (uint16_t)fr_get(&c, 2);
		h->req_id = (uint32_t)fr_get(&c, 4);
		h->len = (uint32_t)fr_get(&c, 4);
	}
	if (len > FR_CTL_MSG_MAX)
		return -FR_CTL_E_OVERSIZED;
	if (len < FR_CTL_HDR_SIZE)
		return -FR_CTL_E_TRUNCATED;
	if (h->magic != FR_CTL_MAGIC)
		return -FR_CTL_E_BAD_MAGIC;
	if (h->version != FR_CTL_VERSION)
		return -FR_CTL_E_BAD_VERSION;
	if (!fr_ctl_type_known(h->type))
		return -FR_CTL_E_UNKNOWN_TYPE;
	rt = h->type == FR_CTL_ERROR ? 0 : (uint8_t)(h->type & ~FR_CTL_REPLY);
	if (h->flags & ~FR_CTL_F_MORE)
		return -FR_CTL_E_BAD_FLAGS;
	if ((h->flags & FR_CTL_F_MORE) && !((h->type & FR_CTL_REPLY) && h->type != FR_CTL_ERROR && fr_ctl_type_is_list(rt)))
		return -FR_CTL_E_BAD_FLAGS;
	if (h->len > len - FR_CTL_HDR_SIZE)
		return -FR_CTL_E_TRUNCATED;
	if (h->len < len - FR_CTL_HDR_SIZE)
		return -FR_CTL_E_TRAILING;

	if (h->type == FR_CTL_ERROR) {
		unsigned n;
		out->u.err.code = (uint16_t)fr_get(&c, 2);
		out->u.err.err = (int32_t)(uint32_t)fr_get(&c, 4);
		n = (unsigned)fr_get(&c, 1);
		if (c.bad || out->u.err.code == FR_CTL_OK || out->u.err.code >= FR_CTL_E__COUNT || n > FR_CTL_ERRMSG_MAX ||
		    (size_t)(c.end - c.p) != n)
			return -FR_CTL_E_BAD_PAYLOAD;
		for (unsigned i = 0; i < n; i++) {
			if (c.p[i] < 0x20 || c.p[i] > 0x7e)
				return -FR_CTL_E_BAD_PAYLOAD;
			out->u.err.msg[i] = (char)c.p[i];
		}
		return 0;
	}
	if (!(h->type & FR_CTL_REPLY)) {
		if (fr_ctl_type_has_client_id(h->type)) {
			unsigned n = (unsigned)fr_get(&c, 1);
			size_t rest = c.bad ? 0 : (size_t)(c.end - c.p);
			int rc;
			/* after the id: nothing, or (REGISTER only) exactly the u64 interval */
			if (c.bad || (rest != n && !(h->type == FR_CTL_REGISTER && rest == (size_t)n + 8)))
				return -FR_CTL_E_BAD_PAYLOAD;
			if (n == 0 || n > FR_CTL_ID_MAX)
				return -FR_CTL_E_BAD_CLIENT_ID;
			memcpy(out->u.client_id, c.p, n);
			for (unsigned i = 0; i < n; i++)
				if (c.p[i] == 0)
					return -FR_CTL_E_BAD_CLIENT_ID;
			rc = fr_ctl_check_client_id(out->u.client_id);
			if (rc || rest == n)
				return rc;
			c.p += n;
			out->publish_interval_ms = fr_get(&c, 8);
			out->has_publish_interval = 1;
			return fr_ctl_check_publish_interval(out->publish_interval_ms);
		}
		return h->len == 0 ? 0 : -FR_CTL_E_BAD_PAYLOAD;
	}
	switch (rt) {
	case FR_CTL_PING:
		out->u.ping.pid = (uint32_t)fr_get(&c, 4);
		out->u.ping.proto_version = (uint32_t)fr_get(&c, 4);
		out->u.ping.uptime_ms = fr_get(&c, 8);
		break;
	case FR_CTL_REGISTER:
		out->u.reg.generation = fr_get(&c, 8);
		out->u.reg.created = (uint32_t)fr_get(&c, 4);
		if (out->u.reg.created > 1)
			return -FR_CTL_E_BAD_PAYLOAD;
		break;
	case FR_CTL_UNREGISTER:
		break;
	case FR_CTL_SNAPSHOT:
		out->u.snap.generation = fr_get(&c, 8);
		out->u.snap.seq = fr_get(&c, 8);
		out->u.snap.slot = (uint32_t)fr_get(&c, 4);
		out->u.snap.records = (uint32_t)fr_get(&c, 4);
		break;
	default: /* lists */
		out->u.list.count = (uint32_t)fr_get(&c, 4);
		out->u.list.items = c.p;
		out->u.list.len = (uint32_t)(c.end - c.p);
		if (c.bad || !fr_ctl_list_valid(&c, rt, out->u.list.count))
			return -FR_CTL_E_BAD_PAYLOAD;
		break;
	}
	if (c.bad || c.p != c.end)
		return -FR_CTL_E_BAD_PAYLOAD;
	return 0;
}

static int fr_ctl_put_hdr(uint8_t *b, uint8_t type, uint16_t flags, uint32_t req_id, size_t payload)
{
	fr_put(b, FR_CTL_MAGIC, 4);
	b[4] = FR_CTL_VERSION;
	b[5] = type;
	fr_put(b + 6, flags, 2);
	fr_put(b + 8, req_id, 4);
	fr_put(b + 12, payload, 4);
	return (int)(FR_CTL_HDR_SIZE + payload);
}

static size_t fr_ctl_cap(size_t cap)
{
	return cap > FR_CTL_MSG_MAX ? FR_CTL_MSG_MAX : cap;
}

int fr_ctl_encode_request(void *buf, size_t cap, uint8_t type, uint32_t req_id, const char *client_id)
{
	uint8_t *b = buf;
	size_t n = 0;

	if (type < FR_CTL_PING || type > FR_CTL_REQ_LAST)
		return -EINVAL;
	if (fr_ctl_type_has_client_id(type)) {
		if (!client_id || fr_ctl_check_client_id(client_id))
			return -EINVAL;
		n = strlen(client_id);
	}
	if (fr_ctl_cap(cap) < FR_CTL_HDR_SIZE + (n ? n + 1 : 0))
		return -ENOSPC;
	if (n) {
		b[FR_CTL_HDR_SIZE] = (uint8_t)n;
		memcpy(b + FR_CTL_HDR_SIZE + 1, client_id, n);
		n++;
	}
	return fr_ctl_put_hdr(b, type, 0, req_id, n);
}

int fr_ctl_encode_register(void *buf, size_t cap, uint32_t req_id, const char *client_id,
			   const uint64_t *publish_interval_ms)
{
	uint8_t *b = buf;
	size_t n;

	if (!publish_interval_ms)
		return fr_ctl_encode_request(buf, cap, FR_CTL_REGISTER, req_id, client_id);
	if (!client_id || fr_ctl_check_client_id(client_id) || fr_ctl_check_publish_interval(*publish_interval_ms))
		return -EINVAL;
	n = strlen(client_id);
	if (fr_ctl_cap(cap) < FR_CTL_HDR_SIZE + 1 + n + 8)
		return -ENOSPC;
	b[FR_CTL_HDR_SIZE] = (uint8_t)n;
	memcpy(b + FR_CTL_HDR_SIZE + 1, client_id, n);
	fr_put(b + FR_CTL_HDR_SIZE + 1 + n, *publish_interval_ms, 8);
	return fr_ctl_put_hdr(b, FR_CTL_REGISTER, 0, req_id, 1 + n + 8);
}

int fr_ctl_encode_ping_reply(void *buf, size_t cap, uint32_t req_id, const struct fr_ctl_ping_reply *r)
{
	uint8_t *b = buf;

	if (fr_ctl_cap(cap) < FR_CTL_HDR_SIZE + 16)
		return -ENOSPC;
	fr_put(b + 16, r->pid, 4);
	fr_put(b + 20, r->proto_version, 4);
	fr_put(b + 24, r->uptime_ms, 8);
	return fr_ctl_put_hdr(b, FR_CTL_REPLY | FR_CTL_PING, 0, req_id, 16);
}

int fr_ctl_encode_register_reply(void *buf, size_t cap, uint32_t req_id, const struct fr_ctl_register_reply *r)
{
	uint8_t *b = buf;

	if (r->created > 1)
		return -EINVAL;
	if (fr_ctl_cap(cap) < FR_CTL_HDR_SIZE + 12)
		return -ENOSPC;
	fr_put(b + 16, r->generation, 8);
	fr_put(b + 24, r->created, 4);
	return fr_ctl_put_hdr(b, FR_CTL_REPLY | FR_CTL_REGISTER, 0, req_id, 12);
}

int fr_ctl_encode_snapshot_reply(void *buf, size_t cap, uint32_t req_id, const struct fr_ctl_snapshot_reply *r)
{
	uint8_t *b = buf;

	if (fr_ctl_cap(cap) < FR_CTL_HDR_SIZE + 24)
		return -ENOSPC;
	fr_put(b + 16, r->generation, 8);
	fr_put(b + 24, r->seq, 8);
	fr_put(b + 32, r->slot, 4);
	fr_put(b + 36, r->records, 4);
	return fr_ctl_put_hdr(b, FR_CTL_REPLY | FR_CTL_SNAPSHOT, 0, req_id, 24);
}

int fr_ctl_encode_empty_reply(void *buf, size_t cap, uint8_t req_type, uint32_t req_id)
{
	if (req_type != FR_CTL_UNREGISTER)
		return -EINVAL;
	if (fr_ctl_cap(cap) < FR_CTL_HDR_SIZE)
		return -ENOSPC;
	return fr_ctl_put_hdr(buf, FR_CTL_REPLY | req_type, 0, req_id, 0);
}

int fr_ctl_encode_error(void *buf, size_t cap, uint32_t req_id, uint16_t code, int32_t err, const char *msg)
{
	uint8_t *b = buf;
	size_t n = msg ? strnlen(msg, FR_CTL_ERRMSG_MAX) : 0;

	if (code == FR_CTL_OK || code >= FR_CTL_E__COUNT)
		return -EINVAL;
	if (fr_ctl_cap(cap) < FR_CTL_HDR_SIZE + 7 + n)
		return -ENOSPC;
	fr_put(b + 16, code, 2);
	fr_put(b + 18, (uint32_t)err, 4);
	b[22] = (uint8_t)n;
	for (size_t i = 0; i < n; i++)
		b[23 + i] = (uint8_t)msg[i] >= 0x20 && (uint8_t)msg[i] <= 0x7e ? (uint8_t)msg[i] : '?';
	return fr_ctl_put_hdr(b, FR_CTL_ERROR, 0, req_id, 7 + n);
}

void fr_ctl_list_begin(struct fr_ctl_list_builder *b, void *buf, size_t cap, uint8_t req_type, uint32_t req_id)
{
	b->buf = buf;
	b->cap = fr_ctl_cap(cap);
	b->len = FR_CTL_HDR_SIZE + 4; /* header, then the u32 item count */
	b->count = 0;
	b->req_type = req_type;
	b->req_id = req_id;
}

/* Append a string and n u64s, all or nothing. */
static int fr_ctl_list_add(struct fr_ctl_list_builder *b, uint8_t want_type, const char *s, unsigned max,
			   const uint64_t *v, unsigned nv)
{
	size_t n = strnlen(s, max + 1);

	if (b->req_type != want_type || n == 0 || n > max)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] <= 0x20 || (uint8_t)s[i] > 0x7e)
			return -EINVAL;
	if (b->len + 1 + n + 8 * nv > b->cap)
		return -ENOSPC;
	b->buf[b->len++] = (uint8_t)n;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	for (unsigned i = 0; i < nv; i++, b->len += 8)
		fr_put(b->buf + b->len, v[i], 8);
	b->count++;
	return 0;
}

int fr_ctl_list_add_stat(struct fr_ctl_list_builder *b, const char *name, uint64_t value)
{
	return fr_ctl_list_add(b, FR_CTL_STATS, name, FR_CTL_NAME_MAX, &value, 1);
}

int fr_ctl_list_add_client(struct fr_ctl_list_builder *b, const struct fr_ctl_client_item *it)
{
	uint64_t v[3] = {it->keys, it->closed, it->idle_ms};

	if (fr_ctl_check_client_id(it->id))
		return -EINVAL;
	return fr_ctl_list_add(b, FR_CTL_CLIENTS, it->id, FR_CTL_ID_MAX, v, 3);
}

int fr_ctl_list_add_dump(struct fr_ctl_list_builder *b, const struct fr_ctl_dump_item *it)
{
	uint64_t v[3] = {it->sent, it->recv, it->retransmits};

	return fr_ctl_list_add(b, FR_CTL_DUMP, it->key, FR_CTL_KEY_MAX, v, 3);
}

int fr_ctl_list_finish(struct fr_ctl_list_builder *b, bool more)
{
	fr_put(b->buf + FR_CTL_HDR_SIZE, b->count, 4);
	return fr_ctl_put_hdr(b->buf, (uint8_t)(FR_CTL_REPLY | b->req_type), more ? FR_CTL_F_MORE : 0, b->req_id,
			      b->len - FR_CTL_HDR_SIZE);
}

void fr_ctl_list_iter_init(struct fr_ctl_list_iter *it, const struct fr_ctl_msg *m)
{
	bool list = (m->hdr.type & FR_CTL_REPLY) && m->hdr.type != FR_CTL_ERROR &&
		    fr_ctl_type_is_list((uint8_t)(m->hdr.type & ~FR_CTL_REPLY));

	it->p = list ? m->u.list.items : NULL;
	it->end = list ? m->u.list.items + m->u.list.len : NULL;
	it->left = list ? m->u.list.count : 0;
	it->type = list ? (uint8_t)(m->hdr.type & ~FR_CTL_REPLY) : 0;
}

static int fr_ctl_iter_take(struct fr_ctl_list_iter *it, uint8_t want, char *s, unsigned max, uint64_t *v, unsigned nv)
{
	struct fr_cur c = {.p = it->p, .end = it->end};

	if (it->left == 0 || it->type != want)
		return 0;
	fr_get_str(&c, s, max, false);
	for (unsigned i = 0; i < nv; i++)
		v[i] = fr_get(&c, 8);
	if (c.bad) {
		it->left = 0;
		return 0;
	}
	it->p = c.p;
	it->left--;
	return 1;
}

int fr_ctl_list_next_stat(struct fr_ctl_list_iter *it, struct fr_ctl_stat_item *out)
{
	return fr_ctl_iter_take(it, FR_CTL_STATS, out->name, FR_CTL_NAME_MAX, &out->value, 1);
}

int fr_ctl_list_next_client(struct fr_ctl_list_iter *it, struct fr_ctl_client_item *out)
{
	uint64_t v[3] = {0, 0, 0};
	int rc = fr_ctl_iter_take(it, FR_CTL_CLIENTS, out->id, FR_CTL_ID_MAX, v, 3);

	out->keys = v[0];
	out->closed = v[1];
	out->idle_ms = v[2];
	return rc;
}

int fr_ctl_list_next_dump(struct fr_ctl_list_iter *it, struct fr_ctl_dump_item *out)
{
	uint64_t v[3] = {0, 0, 0};
	int rc = fr_ctl_iter_take(it, FR_CTL_DUMP, out->key, FR_CTL_KEY_MAX, v, 3);

	out->sent = v[0];
	out->recv = v[1];
	out->retransmits = v[2];
	return rc;
}
