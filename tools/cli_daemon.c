/* cli_daemon.c - `flowring clients` and `flowring dump`: lists the daemon answers over the control
 * socket (CLIENTS, DUMP), as a table or as JSON lines. */
#include <flowring/flowring.h> /* first: it selects _DEFAULT_SOURCE */

#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control_client.h"

struct fr_cli_list_out {
	bool json, titled;
	uint8_t type;
	uint64_t items;
};

static int fr_cli_print_list(void *ctx, const struct fr_ctl_msg *m)
{
	struct fr_cli_list_out *o = ctx;
	struct fr_ctl_list_iter it;
	struct fr_ctl_client_item c;
	struct fr_ctl_dump_item d;

	fr_ctl_list_iter_init(&it, m);
	if (o->type == FR_CTL_CLIENTS) {
		if (!o->json && !o->titled)
			printf("%-32s %10s %10s %12s\n", "Client", "Keys", "Closed", "Idle(ms)");
		o->titled = true; /* a chain of several messages gets one title line */
		while (fr_ctl_list_next_client(&it, &c) == 1) {
			o->items++;
			if (o->json) {
				printf("{\"id\":");
				fr_cli_json_string(stdout, c.id);
				printf(",\"keys\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"idle_ms\":%" PRIu64 "}\n", c.keys,
				       c.closed, c.idle_ms);
			} else {
				printf("%-32s %10" PRIu64 " %10" PRIu64 " %12" PRIu64 "\n", c.id, c.keys, c.closed,
				       c.idle_ms);
			}
		}
	} else {
		if (!o->json && !o->titled)
			printf("%-72s %14s %14s %8s\n", "Key", "Sent", "Recv", "Retrans");
		o->titled = true;
		while (fr_ctl_list_next_dump(&it, &d) == 1) {
			o->items++;
			if (o->json) {
				printf("{\"key\":");
				fr_cli_json_string(stdout, d.key);
				printf(",\"sent\":%" PRIu64 ",\"recv\":%" PRIu64 ",\"retransmits\":%" PRIu64 "}\n", d.sent,
				       d.recv, d.retransmits);
			} else {
				printf("%-72s %14" PRIu64 " %14" PRIu64 " %8" PRIu64 "\n", d.key, d.sent, d.recv,
				       d.retransmits);
			}
		}
	}
	return 0;
}

static void fr_cli_list_help(const char *cmd)
{
	if (strcmp(cmd, "clients") == 0)
		printf("Usage: flowring clients [--json] [global options]\n"
		       "List the clients registered with flowringd: id, remembered keys, buffered closed\n"
		       "connections, milliseconds since the client's last read.\n\n");
	else
		printf("Usage: flowring dump --client ID [--json] [global options]\n"
		       "Dump what flowringd remembers for one client: per connection key (p:<pid>|src:..|dst:..|f:|t:)\n"
		       "the totals last reported to it (sent bytes, received bytes, retransmits).\n\n");
	printf("  -j, --json           one JSON object per line\n"
	       "      --instance NAME  producer instance (default: default)\n"
	       "      --shm-dir DIR    shared-memory directory (default: /dev/shm)\n"
	       "      --control PATH   control socket (default: /run/flowring/<instance>.sock)\n"
	       "  -h, --help           this help\n");
}

static int fr_cli_list_main(struct fr_cli_global *g, int argc, char **argv, uint8_t type)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"client", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		FR_CLI_GLOBAL_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	const char *cmd = argv[0], *client = NULL;
	struct fr_cli_list_out o = {.type = type};
	int opt, fd, rc;

	optind = 0; /* glibc: full re-initialisation for a second getopt pass */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, type == FR_CTL_DUMP ? ":jc:h" : ":jh", longopts, NULL)) != -1) {
		int gr = fr_cli_global_opt(g, opt, optarg);
		if (gr == FR_CLI_USAGE)
			return gr;
		if (gr == 1)
			continue;
		switch (opt) {
		case 'j':
			o.json = true;
			break;
		case 'c':
			if (type != FR_CTL_DUMP)
				return fr_cli_usage_error(cmd, "unknown option '--client'");
			if (fr_name_valid(optarg) != 0)
				return fr_cli_usage_error(cmd, "invalid client id '%s'", optarg);
			client = optarg;
			break;
		case 'h':
			fr_cli_list_help(cmd);
			return FR_CLI_OK;
		default:
			return fr_cli_bad_option(cmd, opt, argv);
		}
	}
	if (optind < argc)
		return fr_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (type == FR_CTL_DUMP && !client)
		return fr_cli_usage_error(cmd, "--client ID is required");

	fd = fr_cli_ctl_connect(g);
	if (fd < 0)
		return FR_CLI_FAIL;
	rc = fr_cli_ctl_list(g, fd, type, client, fr_cli_print_list, &o);
	close(fd);
	if (rc != 0)
		return FR_CLI_FAIL;
	if (!o.json && o.items == 0)
		printf(type == FR_CTL_CLIENTS ? "(no clients registered)\n" : "(nothing remembered for this client)\n");
	return fflush(stdout) == 0 ? FR_CLI_OK : FR_CLI_FAIL;
}

int fr_cli_clients_main(struct fr_cli_global *g, int argc, char **argv)
{
	return fr_cli_list_main(g, argc, argv, FR_CTL_CLIENTS);
}

int fr_cli_dump_main(struct fr_cli_global *g, int argc, char **argv)
{
	return fr_cli_list_main(g, argc, argv, FR_CTL_DUMP);
}
