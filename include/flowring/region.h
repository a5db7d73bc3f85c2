/* flowring/region.h - the shared-memory region: header page, sections, slots, state words.
 *
 * Part of the flowring wire format. ABI major FR_ABI_MAJOR, minor FR_ABI_MINOR. Every region file
 * (<shm_dir>/flowring.<instance>.events, <shm_dir>/flowring.<instance>.client.<id>) starts with one
 * 4096-byte struct fr_region_header, followed by sections whose offsets the header gives. Only
 * fixed-width types, explicit padding and reserved bytes; every size and offset is checked below.
 * A minor version may give meaning to reserved bytes (readers of an older minor ignore them); a
 * major version change is anything else. docs/WIRE_FORMAT.md is the prose version of this file.
 *
 * Events region:   [header 4096][telemetry FR_TELEMETRY_MAX x 64][ring slot_count x 256]
 * Snapshot region: [header 4096][slot_count x (64-byte fr_snapshot_slot + slot_capacity x 240, to 64)]
 *
 * Writers: exactly one producer thread per region. Readers: any number of processes, read-only.
 */
#ifndef FLOWRING_REGION_H
#define FLOWRING_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "telemetry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_ABI_MAJOR 1u
#define FR_ABI_MINOR 0u

/* "FLOWRING" read as a little-endian 64-bit word. */
#define FR_REGION_MAGIC 0x474e4952574f4c46ull

#define FR_REGION_HEADER_SIZE 4096u
#define FR_EVENTS_SLOT_SIZE 256u
#define FR_SNAPSHOT_SLOT_HEADER_SIZE 64u
/* instance and client ids: 1..FR_NAME_MAX-1 printable bytes, no '/', no leading '.' */
#define FR_NAME_MAX 32u
#define FR_DEBUG_CLIENT_ID "-1"

enum fr_region_kind { FR_REGION_EVENTS = 1, FR_REGION_SNAPSHOT = 2 };

/* header.state: INIT while the producer fills a fresh region under its temporary name; READY
 * (stored last, with release) once it may be read; RETIRED when the producer stops using it
 * (shutdown, or a newer generation was renamed over the public name). Never goes back. */
enum fr_region_state { FR_STATE_INIT = 0, FR_STATE_READY = 1, FR_STATE_RETIRED = 2 };

struct fr_region_header {
	/* 0: identity and geometry, immutable once READY */
	uint64_t magic;                 /*   0 FR_REGION_MAGIC */
	uint16_t abi_major;             /*   8 */
	uint16_t abi_minor;             /*  10 */
	uint32_t header_size;           /*  12 FR_REGION_HEADER_SIZE */
	uint32_t kind;                  /*  16 enum fr_region_kind */
	uint32_t record_size;           /*  20 sizeof(struct fr_conn) */
	uint32_t slot_size;             /*  24 events: 256; snapshot: bytes of one snapshot slot */
	uint32_t slot_count;            /*  28 events: ring capacity (power of two); snapshot: slots */
	uint64_t region_size;           /*  32 bytes of the file the producer allocated */
	uint64_t generation;            /*  40 grows by one each time the public name gets a new file */
	uint32_t slot_capacity;         /*  48 snapshot: records per slot; events: 1 */
	uint32_t heartbeat_interval_ms; /*  52 the producer refreshes heartbeat_ns at least this often */
	uint32_t producer_pid;          /*  56 */
	uint32_t flags;                 /*  60 zero in 1.0 */
	/* 64: sections */
	uint64_t ring_offset;           /*  64 first ring / snapshot slot, multiple of 64 */
	uint64_t ring_size;             /*  72 slot_count * slot_size */
	uint64_t telemetry_offset;      /*  80 events: telemetry block; 0 when absent */
	uint32_t telemetry_count;       /*  88 entries in the telemetry block */
	uint32_t resv1;                 /*  92 */
	uint64_t producer_start_time;   /*  96 /proc/<pid>/stat field 22 (ticks since boot): pid reuse */
	uint64_t created_realtime_ns;   /* 104 CLOCK_REALTIME at creation, for humans */
	uint64_t producer_pidns;        /* 112 inode of the producer's /proc/self/ns/pid (0: unknown) */
	uint64_t resv2;                 /* 120 */
	/* 128: names, NUL-terminated */
	char instance[64];              /* 128 */
	char client_id[64];             /* 192 empty for the events region */
	/* 256: state word, own cache line */
	uint32_t state;                 /* 256 enum fr_region_state */
	uint32_t resv3[15];             /* 260 */
	/* 320: liveness, own cache line */
	uint64_t heartbeat_ns;          /* 320 CLOCK_MONOTONIC ns of the producer's last heartbeat */
	uint64_t resv4[7];              /* 328 */
	/* 384: published position, own cache line (written on every publish) */
	uint64_t head;                  /* 384 events: records published; snapshot: last committed number */
	uint64_t resv5[7];              /* 392 */
	/* 448: futex word, own cache line (written only when the producer wakes readers) */
	uint32_t wake_seq;              /* 448 futex word: +1 at each producer wake (docs: "Waiting") */
	uint32_t resv6[15];             /* 452 */
	uint8_t resv7[FR_REGION_HEADER_SIZE - 512]; /* 512 */
};

/* One events-ring slot. seq is derived from the position p the slot holds: 2p+1 while it is
 * written, 2p+2 once complete; 0 means never written. See DESIGN §5 / docs/WIRE_FORMAT.md. */
struct fr_events_slot {
	uint64_t seq;
	uint64_t resv;
	struct fr_conn rec;
};

/* The header of one snapshot slot; slot_capacity records of struct fr_conn follow it. For
 * snapshot number n (1, 2, ...) in slot n % slot_count: seq = 2n-1 while written, 2n once
 * committed; 0 = empty. count, snap_seq and read_time_ns are guarded by seq like the records. */
struct fr_snapshot_slot {
	uint64_t seq;          /*  0 */
	uint64_t snap_seq;     /*  8 n */
	uint64_t count;        /* 16 records in this snapshot, <= slot_capacity */
	uint64_t read_time_ns; /* 24 CLOCK_MONOTONIC ns of the client read the snapshot answers */
	uint64_t resv[4];      /* 32 */
};

#define FR__REGION_OFF(f, off) FR__STATIC_ASSERT(offsetof(struct fr_region_header, f) == (off), #f)
FR__STATIC_ASSERT(sizeof(struct fr_region_header) == FR_REGION_HEADER_SIZE, "header is one page");
FR__REGION_OFF(magic, 0);
FR__REGION_OFF(abi_major, 8);
FR__REGION_OFF(abi_minor, 10);
FR__REGION_OFF(header_size, 12);
FR__REGION_OFF(kind, 16);
FR__REGION_OFF(record_size, 20);
FR__REGION_OFF(slot_size, 24);
FR__REGION_OFF(slot_count, 28);
FR__REGION_OFF(region_size, 32);
FR__REGION_OFF(generation, 40);
FR__REGION_OFF(slot_capacity, 48);
FR__REGION_OFF(heartbeat_interval_ms, 52);
FR__REGION_OFF(producer_pid, 56);
FR__REGION_OFF(flags, 60);
FR__REGION_OFF(ring_offset, 64);
FR__REGION_OFF(ring_size, 72);
FR__REGION_OFF(telemetry_offset, 80);
FR__REGION_OFF(telemetry_count, 88);
FR__REGION_OFF(producer_start_time, 96);
FR__REGION_OFF(created_realtime_ns, 104);
FR__REGION_OFF(producer_pidns, 112);
FR__REGION_OFF(instance, 128);
FR__REGION_OFF(client_id, 192);
FR__REGION_OFF(state, 256);
FR__REGION_OFF(heartbeat_ns, 320);
FR__REGION_OFF(head, 384);
FR__REGION_OFF(wake_seq, 448);
FR__REGION_OFF(resv7, 512);
#undef FR__REGION_OFF

FR__STATIC_ASSERT(sizeof(struct fr_events_slot) == FR_EVENTS_SLOT_SIZE, "events slot size");
FR__STATIC_ASSERT(offsetof(struct fr_events_slot, seq) == 0, "events slot seq");
FR__STATIC_ASSERT(offsetof(struct fr_events_slot, rec) == 16, "events slot record");
FR__STATIC_ASSERT(sizeof(struct fr_snapshot_slot) == FR_SNAPSHOT_SLOT_HEADER_SIZE, "snapshot slot header");
FR__STATIC_ASSERT(offsetof(struct fr_snapshot_slot, count) == 16, "snapshot slot count");
FR__STATIC_ASSERT(offsetof(struct fr_snapshot_slot, read_time_ns) == 24, "snapshot slot read time");
FR__STATIC_ASSERT(FR_TELEMETRY_MAX * sizeof(struct fr_telemetry_entry) % 4096 == 0,
		  "telemetry block keeps the ring page aligned");

/* Bytes of one snapshot slot holding cap records (header + records, rounded up to 64). */
#define FR_SNAPSHOT_SLOT_BYTES(cap) \
	((((uint64_t)FR_SNAPSHOT_SLOT_HEADER_SIZE + (uint64_t)(cap) * FR_CONN_SIZE) + 63u) & ~(uint64_t)63u)

#ifdef __cplusplus
}
#endif

#endif /* FLOWRING_REGION_H */
