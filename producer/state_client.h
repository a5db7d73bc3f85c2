/* state_client.h - the state's clients: the id-keyed registry, each client's lifecycle (register,
 * remove, expire) and the store of closed records into every client's buffer. Private to state*.c;
 * the public entry points are declared in state.h. */
#ifndef FR_STATE_CLIENT_H
#define FR_STATE_CLIENT_H

#include <stdbool.h>

#include "state_internal.h"

/* Create the empty clients table at fr_state_new_sp. Returns 0 or -ENOMEM. */
int fr_state_clients_init_sp(struct fr_state *st);

/* Whether id is 1..63 printable characters (what fr_state_register_sp accepts). */
bool fr_state_client_id_valid(const char *id);

/* The registered client of this id or NULL: from the writer, or from a reader inside a reader
 * section (fr_state_reader_enter_mc), which keeps the client alive until it leaves. */
struct fr_client *fr_state_client_find(struct fr_state *st, const char *id);

/* Unregister a client now and free it after the grace period (its closed buffer at once). */
void fr_state_client_unlink_sp(struct fr_state *st, struct fr_client *c);

#endif /* FR_STATE_CLIENT_H */
