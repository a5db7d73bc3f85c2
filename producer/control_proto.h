/* control_proto.h - the flowringd control protocol: binary messages over a Unix SOCK_SEQPACKET socket.
 *
 * Pure functions: encode into and decode from caller buffers, no I/O, no allocation, no globals; safe
 * from any thread. The wire format is documented in docs/OPERATIONS.md ("Control protocol"):
 *
 *   every message = 16-byte header + payload, all integers little-endian, at most FR_CTL_MSG_MAX bytes
 *     off 0  u32 magic    FR_CTL_MAGIC ("FRCT")
 *         4  u8  version  FR_CTL_VERSION
 *         5  u8  type     enum fr_ctl_type (a reply is FR_CTL_REPLY | request type, or FR_CTL_ERROR)
 *         6  u16 flags    FR_CTL_F_MORE on list replies only; every other bit must be 0
 *         8  u32 req_id   chosen by the client, echoed in every reply message
 *        12  u32 len      payload bytes; header + len must equal the message size exactly
 *   strings are u8 length + bytes (no NUL).
 *
 * Request payloads: PING, STATS, CLIENTS: empty. UNREGISTER, SNAPSHOT, DUMP: the client id string.
 * REGISTER: the client id string, optionally followed by a u64 publish_interval_ms (the client's
 * periodic-snapshot interval; absent: the daemon's --publish-interval). The optional field was added
 * within version 1: a request without it means what it always meant, and a daemon that predates it
 * answers a request with it FR_CTL_E_BAD_PAYLOAD (trailing bytes), so a client can fall back.
 *
 * One request gets exactly one reply chain: either one message, or (STATS, CLIENTS, DUMP) messages with
 * FR_CTL_F_MORE set on all but the last; an FR_CTL_ERROR message also ends a chain.
 */
#ifndef FR_CONTROL_PROTO_H
#define FR_CONTROL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FR_CTL_MAGIC 0x54435246u /* "FRCT" as little-endian bytes */
#define FR_CTL_VERSION 1u
#define FR_CTL_HDR_SIZE 16u
#define FR_CTL_MSG_MAX 4096u
#define FR_CTL_ID_MAX 32u      /* client id bytes (same rule as an instance name) */
#define FR_CTL_NAME_MAX 55u    /* stat name bytes (a telemetry name fits) */
#define FR_CTL_KEY_MAX 200u    /* dump key bytes (a BeautifyKey string fits) */
#define FR_CTL_ERRMSG_MAX 200u /* error text bytes */

/* A REGISTER's publish_interval_ms is 0 (snapshots on request only) or within these bounds, else the
 * request is FR_CTL_E_BAD_PAYLOAD. Why bounded: any privileged peer may register, and each periodic
 * snapshot costs the daemon's single event-loop thread a read of the BPF maps plus a full read of the
 * client's state; below 10 ms a few clients could keep that thread busy publishing and starve the
 * events ring and the control socket. Above a day a period buys nothing over asking, and the cap
 * keeps the daemon's interval_ms * 1e6 nanosecond arithmetic far from overflow. */
#define FR_CTL_PUBLISH_INTERVAL_MIN_MS 10u
#define FR_CTL_PUBLISH_INTERVAL_MAX_MS (24ull * 3600ull * 1000ull)

#define FR_CTL_F_MORE 0x0001u /* more reply messages follow for this request */

enum fr_ctl_type {
	FR_CTL_PING = 1,       /* -> ping reply */
	FR_CTL_REGISTER = 2,   /* client id [+ u64 publish_interval_ms] -> register reply */
	FR_CTL_UNREGISTER = 3, /* client id -> empty reply */
	FR_CTL_SNAPSHOT = 4,   /* client id -> snapshot reply: where the snapshot was published */
	FR_CTL_STATS = 5,      /* -> list of (name, value) */
	FR_CTL_CLIENTS = 6,    /* -> list of client items */
	FR_CTL_DUMP = 7,       /* client id -> list of (key, totals) */
	FR_CTL_REQ_LAST = FR_CTL_DUMP,
	FR_CTL_REPLY = 0x80, /* OR'ed with the request type */
	FR_CTL_ERROR = 0xff, /* error reply to any request (or to an undecodable message, req_id 0) */
};

/* Status codes: decode failures return their negative; error replies carry them. Stable numbers. */
enum fr_ctl_status {
	FR_CTL_OK = 0,
	FR_CTL_E_TRUNCATED = 1,      /* shorter than the header, or than the header's payload length */
	FR_CTL_E_OVERSIZED = 2,      /* longer than FR_CTL_MSG_MAX */
	FR_CTL_E_BAD_MAGIC = 3,      /* not a flowring control message */
	FR_CTL_E_BAD_VERSION = 4,    /* protocol version we do not speak */
	FR_CTL_E_UNKNOWN_TYPE = 5,   /* type not defined, or not valid in this direction */
	FR_CTL_E_BAD_FLAGS = 6,      /* unknown flag bit, or MORE on a message that cannot continue */
	FR_CTL_E_TRAILING = 7,       /* more bytes than header + payload length */
	FR_CTL_E_BAD_PAYLOAD = 8,    /* payload of the wrong shape for its type */
	FR_CTL_E_BAD_CLIENT_ID = 9,  /* empty, too long, '/', leading '.', or non-printable */
	FR_CTL_E_PERM = 10,          /* peer credentials not allowed (root or the configured group) */
	FR_CTL_E_BUSY = 11,          /* too many control connections */
	FR_CTL_E_NO_CLIENT = 12,     /* no client registered under that id */
	FR_CTL_E_LIMIT = 13,         /* max clients registered */
	FR_CTL_E_INTERNAL = 14,      /* the daemon failed (the errno field says how) */
	FR_CTL_E_UNSUPPORTED = 15,   /* this daemon does not implement the request */
	FR_CTL_E__COUNT
};

struct fr_ctl_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t req_id;
	uint32_t len;
};

struct fr_ctl_ping_reply {
	uint32_t pid;           /* daemon pid */
	uint32_t proto_version; /* FR_CTL_VERSION of the daemon */
	uint64_t uptime_ms;
};

struct fr_ctl_register_reply {
	uint64_t generation; /* generation of the client's snapshot region */
	uint32_t created;    /* 1: newly registered, 0: the id was already registered (idempotent) */
};

struct fr_ctl_snapshot_reply {
	uint64_t generation; /* region generation the snapshot is in */
	uint64_t seq;        /* slot sequence it was published at */
	uint32_t slot;       /* slot index */
	uint32_t records;    /* records in the snapshot */
};

struct fr_ctl_error {
	uint16_t code; /* enum fr_ctl_status */
	int32_t err;   /* positive errno behind FR_CTL_E_INTERNAL etc., or 0 */
	char msg[FR_CTL_ERRMSG_MAX + 1];
};

/* A decoded list payload; items point into the decoded buffer and were all validated. */
struct fr_ctl_list {
	uint32_t count;
	const uint8_t *items;
	uint32_t len;
};

struct fr_ctl_stat_item {
	char name[FR_CTL_NAME_MAX + 1];
	uint64_t value;
};

struct fr_ctl_client_item {
	char id[FR_CTL_ID_MAX + 1];
	uint64_t keys;    /* remembered keys */
	uint64_t closed;  /* buffered closed records */
	uint64_t idle_ms; /* since the client's last read */
};

struct fr_ctl_dump_item {
	char key[FR_CTL_KEY_MAX + 1]; /* BeautifyKey */
	uint64_t sent;
	uint64_t recv;
	uint64_t retransmits;
};

struct fr_ctl_msg {
	struct fr_ctl_hdr hdr;
	/* REGISTER requests only (outside the union: they come with u.client_id). has_publish_interval:
	 * the request carried publish_interval_ms; 0: it did not (the daemon's default applies) and
	 * publish_interval_ms is 0. */
	uint8_t has_publish_interval;
	uint64_t publish_interval_ms;
	union {
		char client_id[FR_CTL_ID_MAX + 1]; /* REGISTER, UNREGISTER, SNAPSHOT, DUMP requests */
		struct fr_ctl_ping_reply ping;
		struct fr_ctl_register_reply reg;
		struct fr_ctl_snapshot_reply snap;
		struct fr_ctl_error err;
		struct fr_ctl_list list; /* STATS, CLIENTS, DUMP replies */
	} u;
};

/* Decode and fully validate one message of len bytes. Returns 0, or -FR_CTL_E_* naming the first
 * problem found (checked in this order: size, magic, version, type, flags, length, payload). On
 * failure out->hdr holds whatever header fields could be read (req_id for the error reply). */
int fr_ctl_decode(const void *buf, size_t len, struct fr_ctl_msg *out);

/* 0 if ms is a valid REGISTER publish_interval_ms (0, or MIN..MAX above), -FR_CTL_E_BAD_PAYLOAD. */
int fr_ctl_check_publish_interval(uint64_t ms);
/* Does a request of this type carry a client id? */
bool fr_ctl_type_has_client_id(uint8_t type);
/* Is the reply to this request type a list (STATS, CLIENTS, DUMP)? */
bool fr_ctl_type_is_list(uint8_t type);
/* 0 if id is a valid client id, -FR_CTL_E_BAD_CLIENT_ID otherwise. */
int fr_ctl_check_client_id(const char *id);
/* A short English description of a status code (never NULL). */
const char *fr_ctl_strerror(int code);

/* Encoders: write one whole message into buf (cap bytes) and return its length, or -ENOSPC (buf too
 * small), -EINVAL (a type or string that would not decode). */
int fr_ctl_encode_request(void *buf, size_t cap, uint8_t type, uint32_t req_id, const char *client_id);
/* A REGISTER request; publish_interval_ms NULL: without the field (the daemon's default applies),
 * else the client's interval (0: snapshots on request only); -EINVAL if it is out of bounds. */
int fr_ctl_encode_register(void *buf, size_t cap, uint32_t req_id, const char *client_id,
			   const uint64_t *publish_interval_ms);
int fr_ctl_encode_ping_reply(void *buf, size_t cap, uint32_t req_id, const struct fr_ctl_ping_reply *r);
int fr_ctl_encode_register_reply(void *buf, size_t cap, uint32_t req_id, const struct fr_ctl_register_reply *r);
int fr_ctl_encode_snapshot_reply(void *buf, size_t cap, uint32_t req_id, const struct fr_ctl_snapshot_reply *r);
int fr_ctl_encode_empty_reply(void *buf, size_t cap, uint8_t req_type, uint32_t req_id); /* UNREGISTER */
/* msg is cut at FR_CTL_ERRMSG_MAX bytes and non-printable bytes become '?'. */
int fr_ctl_encode_error(void *buf, size_t cap, uint32_t req_id, uint16_t code, int32_t err, const char *msg);

/* List replies, built item by item. add_* returns 0, -ENOSPC when the item does not fit in this
 * message (finish it with more = true, send it, begin again and re-add), or -EINVAL for an item that
 * can never be encoded (empty or too long string). */
struct fr_ctl_list_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint32_t count;
	uint8_t req_type;
	uint32_t req_id;
};
/* cap is clamped to FR_CTL_MSG_MAX. req_type is FR_CTL_STATS, FR_CTL_CLIENTS or FR_CTL_DUMP. */
void fr_ctl_list_begin(struct fr_ctl_list_builder *b, void *buf, size_t cap, uint8_t req_type, uint32_t req_id);
int fr_ctl_list_add_stat(struct fr_ctl_list_builder *b, const char *name, uint64_t value);
int fr_ctl_list_add_client(struct fr_ctl_list_builder *b, const struct fr_ctl_client_item *it);
int fr_ctl_list_add_dump(struct fr_ctl_list_builder *b, const struct fr_ctl_dump_item *it);
/* Write the header; returns the message length. */
int fr_ctl_list_finish(struct fr_ctl_list_builder *b, bool more);

/* Walk a decoded list reply: next_* fills *it and returns 1, or 0 at the end. The item kind must
 * match the reply type (else 0). Never fails on a message fr_ctl_decode() accepted. */
struct fr_ctl_list_iter {
	const uint8_t *p;
	const uint8_t *end;
	uint32_t left;
	uint8_t type;
};
void fr_ctl_list_iter_init(struct fr_ctl_list_iter *it, const struct fr_ctl_msg *m);
int fr_ctl_list_next_stat(struct fr_ctl_list_iter *it, struct fr_ctl_stat_item *out);
int fr_ctl_list_next_client(struct fr_ctl_list_iter *it, struct fr_ctl_client_item *out);
int fr_ctl_list_next_dump(struct fr_ctl_list_iter *it, struct fr_ctl_dump_item *out);

#endif /* FR_CONTROL_PROTO_H */
