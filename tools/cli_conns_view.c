/* cli_conns_view.c - how `flowring conns` shows a snapshot: table and --watch screen
 * (see cli_conns_view.h). */
#include "cli_conns_view.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void fr_cli_conns_table(FILE *f, const struct fr_conn *recs, uint64_t count, uint64_t limit)
{
	int widths[FR_COL__COUNT];
	struct fr_cli_row row;
	uint64_t n = count < limit ? count : limit;

	fr_cli_widths_init(widths);
	for (uint64_t i = 0; i < n; i++) {
		fr_cli_row_format(&recs[i], true, &row);
		fr_cli_row_widen(&row, widths);
	}
	fr_cli_print_titles(f, widths);
	for (uint64_t i = 0; i < n; i++) {
		fr_cli_row_format(&recs[i], true, &row);
		fr_cli_print_row(f, &row, widths);
	}
}

static int fr_cli_conns_by_activity(const void *a, const void *b)
{
	const struct fr_conn *x = a, *y = b;
	uint64_t dx = x->last_sent_bytes + x->last_recv_bytes, dy = y->last_sent_bytes + y->last_recv_bytes;
	if (dx != dy)
		return dx > dy ? -1 : 1;
	uint64_t tx = x->monotonic_sent_bytes + x->monotonic_recv_bytes;
	uint64_t ty = y->monotonic_sent_bytes + y->monotonic_recv_bytes;
	return tx == ty ? 0 : tx > ty ? -1 : 1;
}

void fr_cli_conns_sort_by_activity(struct fr_conn *recs, uint64_t count)
{
	qsort(recs, (size_t)count, sizeof(*recs), fr_cli_conns_by_activity);
}

void fr_cli_conns_screen(FILE *f, struct fr_conn *recs, uint64_t count, const struct fr_cli_screen_head *h)
{
	uint64_t tcp = 0, closed = 0, sent = 0, recv = 0, retr = 0, limit = UINT64_MAX;
	char ts[64], s[32], r[32], rate[96] = "";
	struct winsize ws;
	bool tty = isatty(fileno(f)) == 1;
	time_t now = time(NULL);
	struct tm tm;

	for (uint64_t i = 0; i < count; i++) {
		const struct fr_conn *x = &recs[i];
		tcp += x->type != FR_CONN_UDP;
		closed += (x->flags & FR_CONN_F_CLOSED) || x->end_ns;
		sent += x->last_sent_bytes;
		recv += x->last_recv_bytes;
		retr += x->last_retransmits;
	}
	fr_cli_conns_sort_by_activity(recs, count);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fr_cli_fmt_bytes(sent, s, sizeof(s));
	fr_cli_fmt_bytes(recv, r, sizeof(r));
	if (h->prev_read_time_ns && h->read_time_ns > h->prev_read_time_ns) {
		double secs = (double)(h->read_time_ns - h->prev_read_time_ns) / 1e9;
		char sr[32], rr[32];
		fr_cli_fmt_bytes((uint64_t)((double)sent / secs), sr, sizeof(sr));
		fr_cli_fmt_bytes((uint64_t)((double)recv / secs), rr, sizeof(rr));
		snprintf(rate, sizeof(rate), " (%s/s out, %s/s in)", sr, rr);
	}
	if (tty) {
		fputs("\033[H\033[2J", f); /* home + clear: redraw in place */
		if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_row > 5)
			limit = ws.ws_row - 5u;
	}
	fprintf(f, "flowring conns - %s - instance %s, client %s, snapshot %" PRIu64 ", every %" PRIu64 " ms\n", ts,
		h->instance, h->client, h->snap_seq, h->interval_ms);
	fprintf(f, "%" PRIu64 " connections: %" PRIu64 " tcp, %" PRIu64 " udp; %" PRIu64 " active, %" PRIu64
		   " closed | since last: sent %s, recv %s%s, retrans %" PRIu64 "\n\n",
		count, tcp, count - tcp, count - closed, closed, s, r, rate, retr);
	fr_cli_conns_table(f, recs, count, limit);
	if (count > limit)
		fprintf(f, "... %" PRIu64 " more\n", count - limit);
	if (!tty)
		fputc('\n', f);
}
