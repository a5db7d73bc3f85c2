/* cli_conns_view.h - how `flowring conns` shows a snapshot: the ss-like table, and the top-like
 * --watch screen (a header with counts, totals and rates, then the busiest connections first).
 *
 * Contract: single-threaded; pure formatting apart from the screen's clock and terminal size.
 */
#ifndef FR_CLI_CONNS_VIEW_H
#define FR_CLI_CONNS_VIEW_H

#include <stdint.h>
#include <stdio.h>

#include <flowring/record.h>

/* What the screen's header says about the snapshot shown. */
struct fr_cli_screen_head {
	const char *instance, *client;
	uint64_t snap_seq, interval_ms;
	/* the daemon's read time of this snapshot and of the one before (0: none): rates per second */
	uint64_t read_time_ns, prev_read_time_ns;
};

/* The first min(count, limit) records as a table with titles, columns as wide as their widest
 * cell, counters with their deltas "(+x)". */
void fr_cli_conns_table(FILE *f, const struct fr_conn *recs, uint64_t count, uint64_t limit);
/* Busiest first: by sent + received since the previous read, then by lifetime bytes. */
void fr_cli_conns_sort_by_activity(struct fr_conn *recs, uint64_t count);
/* The --watch screen (sorts recs). On a terminal: clears it first and shows as many rows as fit;
 * otherwise every row and a blank line after the screen. */
void fr_cli_conns_screen(FILE *f, struct fr_conn *recs, uint64_t count, const struct fr_cli_screen_head *h);

#endif /* FR_CLI_CONNS_VIEW_H */
