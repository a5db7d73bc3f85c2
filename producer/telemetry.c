/* telemetry.c - see telemetry.h. */
#include "telemetry.h"

#include <errno.h>
#include <string.h>

#include "region.h"

static const char *const fr_telemetry_fixed_names[] = {
#define FR__TM_NAME(id, name, help) name,
	FR_TELEMETRY_FIXED(FR__TM_NAME)
#undef FR__TM_NAME
};

static void fr_telemetry_write_name(struct fr_telemetry_entry *e, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 1; i < FR_TELEMETRY_NAME_LEN; i++)
		__atomic_store_n(&e->name[i], i < n ? name[i] : '\0', __ATOMIC_RELAXED);
	/* release: pairs with the reader's acquire load of name[0]; the rest of the name is visible
	 * once the first byte is non-zero, so a reader never sees a half-written name */
	__atomic_store_n(&e->name[0], name[0], __ATOMIC_RELEASE);
}

int fr_telemetry_init(struct fr_telemetry *t, struct fr_region *events)
{
	struct fr_region_header *h = events->hdr;
	if (!h || h->telemetry_offset == 0 || h->telemetry_count < FR_TM__COUNT)
		return -EINVAL;
	t->entries = (struct fr_telemetry_entry *)(void *)(events->base + h->telemetry_offset);
	t->count = h->telemetry_count;
	for (uint32_t i = 0; i < FR_TM__COUNT; i++)
		fr_telemetry_write_name(&t->entries[i], fr_telemetry_fixed_names[i]);
	t->used = FR_TM__COUNT;
	return 0;
}

int fr_telemetry_register(struct fr_telemetry *t, const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n >= FR_TELEMETRY_NAME_LEN)
		return -EINVAL;
	for (uint32_t i = 0; i < t->used; i++) {
		if (strncmp(t->entries[i].name, name, FR_TELEMETRY_NAME_LEN) == 0)
			return (int)i;
	}
	if (t->used >= t->count)
		return -ENOSPC;
	fr_telemetry_write_name(&t->entries[t->used], name);
	return (int)t->used++;
}

void fr_telemetry_set(struct fr_telemetry *t, uint32_t id, uint64_t value)
{
	if (id < t->count)
		__atomic_store_n(&t->entries[id].value, value, __ATOMIC_RELAXED);
}

void fr_telemetry_add(struct fr_telemetry *t, uint32_t id, uint64_t delta)
{
	/* single writer per id: load + store, no read-modify-write instruction needed */
	if (id < t->count)
		__atomic_store_n(&t->entries[id].value,
				 __atomic_load_n(&t->entries[id].value, __ATOMIC_RELAXED) + delta, __ATOMIC_RELAXED);
}

uint64_t fr_telemetry_get(const struct fr_telemetry *t, uint32_t id)
{
	return id < t->count ? __atomic_load_n(&t->entries[id].value, __ATOMIC_RELAXED) : 0;
}
