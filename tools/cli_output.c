/* cli_output.c - table and JSON formatting shared by the flowring subcommands (see cli.h). */
#include "cli.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_json.h"
#include "conn_key.h"

void fr_cli_fmt_bytes(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	unsigned u = 0;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", v);
		return;
	}
	d /= 1024.0;
	while (d >= 1024.0 && u + 1 < sizeof(units) - 1) {
		d /= 1024.0;
		u++;
	}
	/* one decimal below 100 keeps the column narrow and still shows movement */
	if (d < 100.0)
		snprintf(buf, len, "%.1f%c", d, units[u]);
	else
		snprintf(buf, len, "%.0f%c", d, units[u]);
}

void fr_cli_fmt_usec(uint64_t us, char *buf, size_t len)
{
	if (us < 1000)
		snprintf(buf, len, "%" PRIu64 "us", us);
	else if (us < 1000000)
		snprintf(buf, len, "%.2fms", (double)us / 1e3);
	else
		snprintf(buf, len, "%.2fs", (double)us / 1e6);
}

void fr_cli_fmt_endpoint(const uint8_t addr[16], uint16_t port, uint8_t family, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == FR_CONN_V6 ? AF_INET6 : AF_INET, addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (family == FR_CONN_V6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

void fr_cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *const fr_cli_titles[FR_COL__COUNT] = {
	[FR_COL_PROTO] = "Proto", [FR_COL_LOCAL] = "Local Address:Port", [FR_COL_PEER] = "Peer Address:Port",
	[FR_COL_DIR] = "Dir",     [FR_COL_PID] = "Pid",                  [FR_COL_SENT] = "Sent",
	[FR_COL_RECV] = "Recv",   [FR_COL_RETR] = "Retrans",             [FR_COL_RTT] = "RTT/Var",
	[FR_COL_STATE] = "State", [FR_COL_NAT] = "NAT",
};

const char *fr_cli_col_title(enum fr_cli_col col)
{
	return (unsigned)col < FR_COL__COUNT ? fr_cli_titles[col] : "";
}

static void fr_cli_counter_cell(char *cell, uint64_t total, uint64_t delta, bool bytes, bool with_deltas)
{
	char t[32], d[32];

	if (bytes) {
		fr_cli_fmt_bytes(total, t, sizeof(t));
		fr_cli_fmt_bytes(delta, d, sizeof(d));
	} else {
		snprintf(t, sizeof(t), "%" PRIu64, total);
		snprintf(d, sizeof(d), "%" PRIu64, delta);
	}
	if (with_deltas)
		snprintf(cell, FR_CLI_CELL_MAX, "%s(+%s)", t, d);
	else
		snprintf(cell, FR_CLI_CELL_MAX, "%s", t);
}

void fr_cli_row_format(const struct fr_conn *c, bool with_deltas, struct fr_cli_row *row)
{
	uint8_t fam = c->family == FR_CONN_V6 ? FR_CONN_V6 : FR_CONN_V4;
	bool tcp = c->type != FR_CONN_UDP;

	snprintf(row->cell[FR_COL_PROTO], FR_CLI_CELL_MAX, "%s%s", fr_conn_type_name(c->type),
		 fam == FR_CONN_V6 ? "6" : "");
	fr_cli_fmt_endpoint(c->saddr, c->sport, fam, row->cell[FR_COL_LOCAL], FR_CLI_CELL_MAX);
	fr_cli_fmt_endpoint(c->daddr, c->dport, fam, row->cell[FR_COL_PEER], FR_CLI_CELL_MAX);
	snprintf(row->cell[FR_COL_DIR], FR_CLI_CELL_MAX, "%s", fr_conn_direction_name(c->direction));
	snprintf(row->cell[FR_COL_PID], FR_CLI_CELL_MAX, "%" PRIu32, c->pid);
	fr_cli_counter_cell(row->cell[FR_COL_SENT], c->monotonic_sent_bytes, c->last_sent_bytes, true, with_deltas);
	fr_cli_counter_cell(row->cell[FR_COL_RECV], c->monotonic_recv_bytes, c->last_recv_bytes, true, with_deltas);
	if (tcp) {
		char r[32], v[32];
		fr_cli_counter_cell(row->cell[FR_COL_RETR], c->monotonic_retransmits, c->last_retransmits, false,
				    with_deltas);
		fr_cli_fmt_usec(c->rtt_us, r, sizeof(r));
		fr_cli_fmt_usec(c->rtt_var_us, v, sizeof(v));
		snprintf(row->cell[FR_COL_RTT], FR_CLI_CELL_MAX, "%s/%s", r, v);
	} else {
		/* UDP has neither: a dash says "not applicable", a 0 would claim a measurement */
		snprintf(row->cell[FR_COL_RETR], FR_CLI_CELL_MAX, "-");
		snprintf(row->cell[FR_COL_RTT], FR_CLI_CELL_MAX, "-");
	}
	snprintf(row->cell[FR_COL_STATE], FR_CLI_CELL_MAX, "%s",
		 (c->flags & FR_CONN_F_CLOSED) || c->end_ns ? "closed" : "active");
	if (c->flags & FR_CONN_F_NAT) {
		char s[60], d[60];
		fr_cli_fmt_endpoint(c->nat.repl_saddr, c->nat.repl_sport, fam, s, sizeof(s));
		fr_cli_fmt_endpoint(c->nat.repl_daddr, c->nat.repl_dport, fam, d, sizeof(d));
		snprintf(row->cell[FR_COL_NAT], FR_CLI_CELL_MAX, "%s->%s", s, d);
	} else {
		snprintf(row->cell[FR_COL_NAT], FR_CLI_CELL_MAX, "-");
	}
}

void fr_cli_widths_init(int widths[FR_COL__COUNT])
{
	for (int i = 0; i < FR_COL__COUNT; i++)
		widths[i] = (int)strlen(fr_cli_titles[i]);
}

void fr_cli_row_widen(const struct fr_cli_row *row, int widths[FR_COL__COUNT])
{
	for (int i = 0; i < FR_COL__COUNT; i++) {
		int n = (int)strlen(row->cell[i]);
		if (n > widths[i])
			widths[i] = n;
	}
}

static void fr_cli_print_cells(FILE *f, const char *const cells[FR_COL__COUNT], const int widths[FR_COL__COUNT])
{
	for (int i = 0; i < FR_COL__COUNT; i++) {
		if (i == FR_COL__COUNT - 1)
			fprintf(f, "%s\n", cells[i]);
		else
			fprintf(f, "%-*s ", widths[i], cells[i]);
	}
}

void fr_cli_print_titles(FILE *f, const int widths[FR_COL__COUNT])
{
	fr_cli_print_cells(f, fr_cli_titles, widths);
}

void fr_cli_print_row(FILE *f, const struct fr_cli_row *row, const int widths[FR_COL__COUNT])
{
	const char *cells[FR_COL__COUNT];

	for (int i = 0; i < FR_COL__COUNT; i++)
		cells[i] = row->cell[i];
	fr_cli_print_cells(f, cells, widths);
}

int fr_cli_print_json_conn(FILE *f, const struct fr_conn *c)
{
	char buf[FR_CONN_JSON_MAX];
	int n = fr_conn_json_format(c, buf, sizeof(buf));

	if (n < 0)
		return n;
	fwrite(buf, 1, (size_t)n, f);
	fputc('\n', f);
	return 0;
}
