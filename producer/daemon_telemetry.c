/* daemon_telemetry.c - flowringd's telemetry: every module's counters copied into the events region's
 * self-describing telemetry block, and per-BPF-program run counts registered at start. Runs on the
 * event-loop thread (daemon.h), every heartbeat. */
#include <stdio.h>

#include "control_server.h"
#include "daemon.h"
#include "filter.h"
#include "nat.h"
#include "portmap.h"
#include "state.h"
#include "telemetry.h"
#include "tracer.h"

#define FR_TM_UNSET UINT64_MAX

void fr_daemon_register_prog_telemetry(struct fr_daemon *d)
{
	struct fr_tracer_prog_stat ps[FR_TRACER_MAX_PROGS];
	char name[FR_TELEMETRY_NAME_LEN];
	int n = fr_tracer_prog_stats(d->tracer, ps, FR_TRACER_MAX_PROGS);

	for (int i = 0; i < n && i < FR_TRACER_MAX_PROGS; i++) {
		snprintf(name, sizeof(name), "bpf_prog_run_cnt:%.30s", ps[i].name);
		d->prog_tm_runs[i] = fr_telemetry_register(&d->events.telemetry, name);
		snprintf(name, sizeof(name), "bpf_prog_run_time_ns:%.30s", ps[i].name);
		d->prog_tm_ns[i] = fr_telemetry_register(&d->events.telemetry, name);
	}
	d->n_prog_tm = n > 0 ? (n < FR_TRACER_MAX_PROGS ? n : FR_TRACER_MAX_PROGS) : 0;
}

void fr_daemon_update_telemetry(struct fr_daemon *d)
{
	struct fr_telemetry *t = &d->events.telemetry;
	struct fr_tracer_prog_stat ps[FR_TRACER_MAX_PROGS];
	struct fr_state_stats ss;
	uint64_t tm[FR_TM__COUNT];
	static const enum fr_telemetry_id ctl_ids[] = {FR_TM_CTL_REQUESTS, FR_TM_CTL_REFUSED_CRED, FR_TM_CTL_MALFORMED,
						       FR_TM_CTL_OVERSIZED, FR_TM_CTL_FLOOD_REFUSED};
	static const enum fr_telemetry_id nat_ids[] = {
		FR_TM_CONNTRACK_REGISTERS, FR_TM_CONNTRACK_REGISTERS_DROPPED, FR_TM_CONNTRACK_ENTRIES,
		FR_TM_CONNTRACK_OVERRUNS,  FR_TM_CONNTRACK_RESYNCS,           FR_TM_CONNTRACK_TRANSLATED};

	/* each module fills the entries it owns; EVENTS_PUBLISHED belongs to the events ring itself */
	for (unsigned i = 0; i < FR_TM__COUNT; i++)
		tm[i] = FR_TM_UNSET;
	fr_tracer_read_telemetry(d->tracer, tm);
	if (fr_state_stats_mc(d->state, &ss, NULL, NULL) == 0)
		fr_state_stats_to_telemetry(&ss, tm);
	fr_portmap_to_telemetry(d->pm, tm);
	for (unsigned i = 0; i < sizeof(ctl_ids) / sizeof(ctl_ids[0]); i++)
		tm[ctl_ids[i]] = fr_ctl_server_counter(d->ctl, ctl_ids[i]);
	for (unsigned i = 0; d->nat && i < sizeof(nat_ids) / sizeof(nat_ids[0]); i++)
		tm[nat_ids[i]] = fr_nat_counter(d->nat, nat_ids[i]);
	tm[FR_TM_CONNS_CLOSED] = d->conns_closed;
	tm[FR_TM_INGEST_FILTERED] = d->filtered_before + fr_filter_excluded_mc(d->filter);
	tm[FR_TM_SNAPSHOTS_PUBLISHED] = d->snapshots_published;
	tm[FR_TM_SNAPSHOT_RECORDS] = d->snapshot_records;
	tm[FR_TM_SNAPSHOT_FAILED] = d->snapshot_failed;
	tm[FR_TM_SNAPSHOT_PUMPS] = d->pumps;
	tm[FR_TM_SNAPSHOT_DEFERRED] = d->pump_deferred;
	tm[FR_TM_SNAPSHOT_DEFERRED_PEAK] = d->pump_deferred_peak;
	tm[FR_TM_SNAPSHOT_PUMP_FULL] = d->pump_queue_full;
	tm[FR_TM_SNAPSHOT_DEFERRED_LOST] = d->pump_deferred_lost;
	tm[FR_TM_INGEST_DRAINS] = d->drains;
	tm[FR_TM_INGEST_FAST_DRAINS] = d->fast_drains;
	tm[FR_TM_EVENTS_WAKES] = d->events.wakes;
	uint64_t regrows = 0;
	for (uint32_t i = 0; i < d->cfg->max_clients; i++)
		if (d->clients[i].used)
			regrows += d->clients[i].w.regrows;
	/* regrows of removed clients are kept in snapshot_regrows_retired */
	tm[FR_TM_SNAPSHOT_REGROWS] = regrows + d->snapshot_regrows_retired;
	for (unsigned i = 0; i < FR_TM__COUNT; i++)
		if (tm[i] != FR_TM_UNSET && i != FR_TM_EVENTS_PUBLISHED)
			fr_telemetry_set(t, i, tm[i]);

	int n = fr_tracer_prog_stats(d->tracer, ps, FR_TRACER_MAX_PROGS);
	for (int i = 0; i < n && i < d->n_prog_tm; i++) {
		if (d->prog_tm_runs[i] >= 0)
			fr_telemetry_set(t, (uint32_t)d->prog_tm_runs[i], ps[i].run_cnt);
		if (d->prog_tm_ns[i] >= 0)
			fr_telemetry_set(t, (uint32_t)d->prog_tm_ns[i], ps[i].run_time_ns);
	}
}
