/* cli.h - the flowring command-line tool: shared options, exit codes and the helpers the
 * subcommand modules (tools/cli_*.c) share. tools/flowring.c parses the global options and
 * dispatches to one fr_cli_<command>_main() per subcommand; docs/CLI.md is the user manual.
 *
 * Contract: single-threaded. Every function prints its own user-facing message to stderr once,
 * where a failure starts (this is a command-line tool: messages go to the user, not to a log),
 * and returns an exit code (FR_CLI_*) or a negative errno as documented below.
 */
#ifndef FR_CLI_H
#define FR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <flowring/record.h>

#include "control_proto.h"

struct fr_events_reader;

/* Exit codes (docs/CLI.md "Exit codes"). */
#define FR_CLI_OK 0
#define FR_CLI_FAIL 1  /* runtime failure: daemon not running, permission, corrupt region... */
#define FR_CLI_USAGE 2 /* bad command line */

#define FR_CLI_CTL_TIMEOUT_MS 5000

/* Options every subcommand accepts (before or after the subcommand name). */
struct fr_cli_global {
	char instance[64];
	char shm_dir[256];
	char control[108]; /* empty: /run/flowring/<instance>.sock */
};

/* The long options of struct fr_cli_global, for a subcommand's getopt_long table. Values are
 * above 255 so they never collide with short options. */
enum { FR_CLI_OPT_INSTANCE = 0x100, FR_CLI_OPT_SHM_DIR, FR_CLI_OPT_CONTROL, FR_CLI_OPT__NEXT };
#define FR_CLI_GLOBAL_LONGOPTS                                                                       \
	{"instance", required_argument, NULL, FR_CLI_OPT_INSTANCE},                                  \
		{"shm-dir", required_argument, NULL, FR_CLI_OPT_SHM_DIR},                            \
		{"control", required_argument, NULL, FR_CLI_OPT_CONTROL}

/* Apply one global option seen by a getopt_long loop. Returns 1 if opt was a global option
 * (applied), 0 if it is not one, or FR_CLI_USAGE after printing why the value is bad. */
int fr_cli_global_opt(struct fr_cli_global *g, int opt, const char *arg);
/* Fill defaults: instance "default", shm dir /dev/shm, control derived from the instance. */
void fr_cli_global_defaults(struct fr_cli_global *g);
/* The control socket path in effect (explicit --control or /run/flowring/<instance>.sock). */
const char *fr_cli_control_path(const struct fr_cli_global *g, char *buf, size_t len);
/* Print "flowring <cmd>: <msg>; try 'flowring <cmd> --help'" and return FR_CLI_USAGE. */
int fr_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report getopt_long's '?' (unknown option) or ':' (missing value) for argv and return
 * FR_CLI_USAGE. Call right after getopt_long returned opt; optstrings start with ':'. */
int fr_cli_bad_option(const char *cmd, int opt, char **argv);
/* Parse a decimal count in [min, max] (whole string). 0 or -EINVAL/-ERANGE. */
int fr_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Subcommands: argv[0] is the subcommand name. Return an exit code. */
int fr_cli_conns_main(struct fr_cli_global *g, int argc, char **argv);
int fr_cli_events_main(struct fr_cli_global *g, int argc, char **argv);
int fr_cli_stats_main(struct fr_cli_global *g, int argc, char **argv);
int fr_cli_clients_main(struct fr_cli_global *g, int argc, char **argv);
int fr_cli_dump_main(struct fr_cli_global *g, int argc, char **argv);

/* ---- control socket (cli_ctl.c) ---- */

/* Connect to the daemon; on failure print what it means (no daemon: how to start it) naming the
 * socket, and return -errno. */
int fr_cli_ctl_connect(const struct fr_cli_global *g);
/* One single-reply request; an error reply or a transport failure is printed (with what) and
 * returned as -EREMOTEIO (*code = the FR_CTL_E_* code) or -errno. code may be NULL. */
int fr_cli_ctl_request(const struct fr_cli_global *g, int fd, uint8_t type, const char *client_id,
		       struct fr_ctl_msg *reply, int *code, bool quiet_no_client);
/* Print what a failed control request (rc, with the error reply when rc is -EREMOTEIO) means. */
void fr_cli_ctl_report(const struct fr_cli_global *g, int rc, const struct fr_ctl_msg *reply, uint8_t type,
		       const char *client_id);
/* A list request (STATS, CLIENTS, DUMP): fn gets each list message. Errors printed as above. */
int fr_cli_ctl_list(const struct fr_cli_global *g, int fd, uint8_t type, const char *client_id,
		    int (*fn)(void *ctx, const struct fr_ctl_msg *m), void *ctx);
/* What to tell a user whose region or socket is missing: how to start the daemon. */
void fr_cli_hint_start(const struct fr_cli_global *g);
/* Open the events region for command cmd; on failure print why (no daemon: how to start it) and
 * return the SDK status. */
int fr_cli_events_open(const struct fr_cli_global *g, const char *cmd, struct fr_events_reader *r, unsigned from);

/* ---- output formatting (cli_output.c); pure functions, any thread ---- */

/* Human bytes: "0B", "512B", "1.5K", "10.0M", "3.2G" (binary units, like ss/top). */
void fr_cli_fmt_bytes(uint64_t v, char *buf, size_t len);
/* A duration in microseconds: "850us", "1.25ms", "3.40s". */
void fr_cli_fmt_usec(uint64_t us, char *buf, size_t len);
/* "a.b.c.d:port" or "[v6]:port" for family FR_CONN_V4/V6. */
void fr_cli_fmt_endpoint(const uint8_t addr[16], uint16_t port, uint8_t family, char *buf, size_t len);
/* Write s as a JSON string (quotes included) to f. */
void fr_cli_json_string(FILE *f, const char *s);

/* One connection as table cells (conns and events share the columns). */
enum fr_cli_col {
	FR_COL_PROTO, FR_COL_LOCAL, FR_COL_PEER, FR_COL_DIR, FR_COL_PID, FR_COL_SENT, FR_COL_RECV,
	FR_COL_RETR, FR_COL_RTT, FR_COL_STATE, FR_COL_NAT, FR_COL__COUNT
};
#define FR_CLI_CELL_MAX 128
struct fr_cli_row {
	char cell[FR_COL__COUNT][FR_CLI_CELL_MAX];
};
/* Fill the cells; with_deltas adds "(+last_x)" to sent/recv/retransmits (snapshots). */
void fr_cli_row_format(const struct fr_conn *c, bool with_deltas, struct fr_cli_row *row);
/* Column titles. */
const char *fr_cli_col_title(enum fr_cli_col col);
/* Widths start at the titles' widths; fr_cli_row_widen() grows them to fit a row. */
void fr_cli_widths_init(int widths[FR_COL__COUNT]);
void fr_cli_row_widen(const struct fr_cli_row *row, int widths[FR_COL__COUNT]);
/* Print the title line / one row with these widths (last column unpadded). */
void fr_cli_print_titles(FILE *f, const int widths[FR_COL__COUNT]);
void fr_cli_print_row(FILE *f, const struct fr_cli_row *row, const int widths[FR_COL__COUNT]);
/* One record as one JSON line (fr_conn_json_format + '\n'). 0 or -ENOSPC. */
int fr_cli_print_json_conn(FILE *f, const struct fr_conn *c);

/* ---- telemetry formats (cli_stats.c) ---- */

struct fr_cli_stat {
	char name[64];
	uint64_t value;
};
/* Prometheus text exposition of n telemetry entries: metric families in first-seen order, each
 * with # HELP and # TYPE (gauge for names ending in "_current", else counter), names prefixed
 * "flowring_", "base:label" names as base{prog="label"} ("bpf_prog_*") or base{name="label"}. */
void fr_cli_stats_prometheus(FILE *f, const struct fr_cli_stat *s, size_t n);
void fr_cli_stats_json(FILE *f, const struct fr_cli_stat *s, size_t n);
void fr_cli_stats_text(FILE *f, const struct fr_cli_stat *s, size_t n);

#endif /* FR_CLI_H */
