/* conn_json.c - one struct fr_conn as one JSON object (see conn_json.h). */
#include "conn_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct fr_jbuf {
	char *p;
	size_t len;
	size_t off;
	int overflow;
};

__attribute__((format(printf, 2, 3))) static void fr_jput(struct fr_jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->off, b->len - b->off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->off) {
		b->overflow = 1;
		return;
	}
	b->off += (size_t)n;
}

static void fr_jaddr(struct fr_jbuf *b, const char *name, const uint8_t a[16], uint8_t family)
{
	char s[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == FR_CONN_V6 ? AF_INET6 : AF_INET, a, s, sizeof(s)))
		snprintf(s, sizeof(s), "?");
	fr_jput(b, "\"%s\":\"%s\",", name, s);
}

static const char *fr_dir_name(uint8_t d)
{
	switch (d) {
	case FR_DIR_INCOMING:
		return "\"incoming\"";
	case FR_DIR_OUTGOING:
		return "\"outgoing\"";
	case FR_DIR_LOCAL:
		return "\"local\"";
	case FR_DIR_NONE:
		return "\"none\"";
	default:
		return "null"; /* FR_DIR_UNKNOWN: not classified yet, which is not "none" */
	}
}

static const char *const fr_flag_names[] = {
	"closed", "failed_connect", "nat", "seeded", "idle_closed", "merged", "udp_connected", "listener_side",
};

int fr_conn_json_format(const struct fr_conn *c, char *buf, size_t len)
{
	struct fr_jbuf b = { buf, len, 0, 0 };
	const uint8_t fam = c->family == FR_CONN_V6 ? FR_CONN_V6 : FR_CONN_V4;
	int first = 1;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	fr_jput(&b, "{");
	fr_jaddr(&b, "src", c->saddr, fam);
	fr_jaddr(&b, "dst", c->daddr, fam);
	fr_jput(&b, "\"sport\":%u,\"dport\":%u,\"type\":\"%s\",\"family\":\"%s\",\"direction\":%s,", c->sport, c->dport,
		c->type == FR_CONN_UDP ? "udp" : "tcp", fam == FR_CONN_V6 ? "v6" : "v4", fr_dir_name(c->direction));
	fr_jput(&b, "\"pid\":%" PRIu32 ",\"netns\":%" PRIu32 ",", c->pid, c->netns);
	fr_jput(&b,
		"\"monotonic_sent_bytes\":%" PRIu64 ",\"last_sent_bytes\":%" PRIu64 ",\"monotonic_recv_bytes\":%" PRIu64
		",\"last_recv_bytes\":%" PRIu64 ",",
		c->monotonic_sent_bytes, c->last_sent_bytes, c->monotonic_recv_bytes, c->last_recv_bytes);
	fr_jput(&b, "\"monotonic_retransmits\":%" PRIu32 ",\"last_retransmits\":%" PRIu32 ",\"rtt\":%" PRIu32
		    ",\"rtt_var\":%" PRIu32 ",\"last_update_epoch\":%" PRIu64 ",\"intra_host\":%s,",
		c->monotonic_retransmits, c->last_retransmits, c->rtt_us, c->rtt_var_us, c->last_update_ns,
		c->intra_host ? "true" : "false");
	if (c->flags & FR_CONN_F_NAT) {
		fr_jput(&b, "\"ip_translation\":{");
		fr_jaddr(&b, "repl_src_ip", c->nat.repl_saddr, fam);
		fr_jaddr(&b, "repl_dst_ip", c->nat.repl_daddr, fam);
		fr_jput(&b, "\"repl_src_port\":%u,\"repl_dst_port\":%u},", c->nat.repl_sport, c->nat.repl_dport);
	} else {
		fr_jput(&b, "\"ip_translation\":null,");
	}
	fr_jput(&b,
		"\"dns_successful_responses\":%" PRIu32 ",\"dns_failed_responses\":%" PRIu32 ",\"dns_timeouts\":%" PRIu32
		",\"dns_success_latency_sum\":%" PRIu64 ",\"dns_failure_latency_sum\":%" PRIu64 ",",
		c->dns_successful_responses, c->dns_failed_responses, c->dns_timeouts, c->dns_success_latency_sum,
		c->dns_failure_latency_sum);
	fr_jput(&b, "\"sent_packets\":%" PRIu64 ",\"recv_packets\":%" PRIu64 ",\"cookie\":%" PRIu64 ",\"start_ns\":%" PRIu64
		    ",",
		c->monotonic_sent_packets, c->monotonic_recv_packets, c->cookie, c->start_ns);
	if (c->end_ns)
		fr_jput(&b, "\"end_ns\":%" PRIu64 ",", c->end_ns);
	else
		fr_jput(&b, "\"end_ns\":null,");
	fr_jput(&b, "\"flags\":[");
	for (unsigned i = 0; i < sizeof(fr_flag_names) / sizeof(fr_flag_names[0]); i++) {
		if (c->flags & (1u << i)) {
			fr_jput(&b, "%s\"%s\"", first ? "" : ",", fr_flag_names[i]);
			first = 0;
		}
	}
	fr_jput(&b, "]}");
	if (b.overflow)
		return -ENOSPC;
	return (int)b.off;
}
