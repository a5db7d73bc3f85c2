/* daemon_enrich.c - flowringd's ingest pipeline for one closed connection (filters, direction, NAT, state,
 * events ring), the NAT entries of closed connections, and the port map's view of every network namespace.
 * Runs on the event-loop thread (daemon.h). */
#include <dirent.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "filter.h"
#include "log.h"
#include "nat.h"
#include "portmap.h"
#include "region.h"
#include "state.h"

#define FR_DAEMON_NAT_GRACE_NS (5000ull * 1000000ull)

/* A translated connection closed. Its NAT entry also serves the other end when both ends live here (a DNAT to
 * a local service), and that end's close is still on its way: forget the entry after a grace period. A full
 * queue forgets at once. */
static void fr_daemon_nat_forget_later(struct fr_daemon *d, const struct fr_conn *c)
{
	struct fr_daemon_nat_gone *g;

	if (d->nat_gone_len == FR_DAEMON_NAT_GONE_MAX) {
		fr_nat_conn_closed(d->nat, c);
		return;
	}
	g = &d->nat_gone[(d->nat_gone_head + d->nat_gone_len++) % FR_DAEMON_NAT_GONE_MAX];
	g->deadline_ns = fr_now_ns() + FR_DAEMON_NAT_GRACE_NS;
	g->type = c->type;
	g->family = c->family;
	g->sport = c->sport;
	g->dport = c->dport;
	memcpy(g->saddr, c->saddr, 16);
	memcpy(g->daddr, c->daddr, 16);
}

void fr_daemon_nat_forget_due(struct fr_daemon *d, uint64_t now)
{
	struct fr_conn c;

	memset(&c, 0, sizeof(c));
	while (d->nat_gone_len) {
		struct fr_daemon_nat_gone *g = &d->nat_gone[d->nat_gone_head];
		if (g->deadline_ns > now)
			break;
		c.type = g->type;
		c.family = g->family;
		c.sport = g->sport;
		c.dport = g->dport;
		memcpy(c.saddr, g->saddr, 16);
		memcpy(c.daddr, g->daddr, 16);
		fr_nat_conn_closed(d->nat, &c);
		d->nat_gone_head = (d->nat_gone_head + 1) % FR_DAEMON_NAT_GONE_MAX;
		d->nat_gone_len--;
	}
}

void fr_daemon_ingest(void *ctx, const struct fr_conn *closed)
{
	struct fr_daemon *d = ctx;
	struct fr_conn c = *closed;

	d->conns_closed++;
	if (fr_filter_apply_sp(d->filter, &c))
		return;
	fr_portmap_classify_sp(d->pm, &c);
	/* conntrack tables are per network namespace: ours only describes connections of our netns; most hosts
	 * NAT nothing, and an empty table needs no hashing */
	if (d->nat && c.netns == d->nat_netns && fr_nat_count(d->nat) && fr_nat_lookup(d->nat, &c) == 0)
		fr_daemon_nat_forget_later(d, &c);
	/* a connect that never established is an event, not a connection: clients' state skips it. During a
	 * snapshot build (this runs from its pump) the store waits for the build's end: daemon_pump.c */
	if (!(c.flags & FR_CONN_F_FAILED_CONNECT))
		fr_daemon_store_closed(d, &c);
	fr_events_publish_sp(&d->events, &c);
}

/* ---- port map: one proc root per network namespace, refreshed on a timer ---- */

uint32_t fr_daemon_netns_of(const char *proc_pid_dir)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "%s/ns/net", proc_pid_dir);
	if (stat(path, &st) != 0)
		return 0;
	return (uint32_t)st.st_ino;
}

void fr_daemon_load_host_addrs(struct fr_daemon *d, uint32_t netns)
{
	struct fr_host_addr addrs[64];
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	if (getifaddrs(&ifa) != 0)
		return;
	for (i = ifa; i && n < 64; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			addrs[n].family = FR_CONN_V4;
			memset(addrs[n].addr, 0, 16);
			memcpy(addrs[n].addr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
			n++;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			addrs[n].family = FR_CONN_V6;
			memcpy(addrs[n].addr, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
			n++;
		}
	}
	freeifaddrs(ifa);
	fr_portmap_set_host_addrs_sp(d->pm, netns, addrs, n);
}

/* Load the listening ports of every network namespace that has a process (first pid wins). */
void fr_daemon_refresh_portmap(struct fr_daemon *d)
{
	uint32_t seen[256];
	size_t nseen = 0;
	struct dirent *de;
	char dir[64];
	DIR *p = opendir("/proc");

	if (!p)
		return;
	while ((de = readdir(p)) && nseen < 256) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(dir, sizeof(dir), "/proc/%.20s", de->d_name);
		uint32_t ns = fr_daemon_netns_of(dir);
		size_t k;
		if (!ns)
			continue;
		for (k = 0; k < nseen && seen[k] != ns; k++)
			;
		if (k < nseen)
			continue;
		seen[nseen++] = ns;
		/* a process may exit between readdir and the load: that namespace waits for the next pass */
		if (fr_portmap_load_sp(d->pm, ns, dir) < 0)
			fr_dbg("port map: %s vanished", dir);
	}
	closedir(p);
}

void fr_daemon_on_port(void *ctx, uint32_t netns, uint8_t type, uint16_t port, bool listening)
{
	struct fr_daemon *d = ctx;
	int rc = listening ? fr_portmap_add_sp(d->pm, netns, type, port) : fr_portmap_remove_sp(d->pm, netns, type, port);

	if (rc)
		fr_dbg("port map: %s %s port %u in netns %u: %s", listening ? "add" : "remove",
		       type == FR_CONN_UDP ? "udp" : "tcp", port, netns, strerror(-rc));
}
