/*
 * client_op: what an edge (ingest, or the broadcaster's y-protocols
 * connections) checks and writes for one client operation. A parsed
 * UPDATE / ITEM_WRITE / ITEM_RESOLVE message (common/ws_frame.h) is
 * validated - a Yjs update must decode in the crdt engine (applied to an
 * empty scratch document: a malformed update is refused, one that depends on
 * updates the server has is fine), an item op must have a valid item id,
 * value and clock - and encoded as the Avro ClientOp record that goes to
 * collab.ops (ITEM_* payloads are ItemWrite / ItemResolve records). No I/O,
 * no state: any thread. Prefix: client_op_.
 */
#ifndef COMMON_CLIENT_OP_H
#define COMMON_CLIENT_OP_H

#include <stddef.h>
#include <stdint.h>

#include "common/avro_registry.h"
#include "common/ws_frame.h"

typedef enum client_op_result {
    CLIENT_OP_OK = 0,
    CLIENT_OP_INVALID_UPDATE, /* NACK invalid_update */
    CLIENT_OP_INVALID_ITEM,   /* NACK invalid_item */
    CLIENT_OP_INTERNAL,       /* out of memory or an encoder failure: ERROR internal */
} client_op_result;

typedef struct client_op_context {
    const struct cavro_registry *registry;
    const char *doc_id;
    const char *user_id;
    const char *node; /* ingest_node of the record */
} client_op_context;

/*
 * Validates msg (type UPDATE, ITEM_WRITE or ITEM_RESOLVE, parsed with
 * WSFRAME_OK) and encodes its ClientOp with ingest_time_us. CLIENT_OP_OK:
 * *out is malloc'd (caller frees) with *out_len bytes. Otherwise why (when
 * why_size > 0) says what is wrong, for the NACK message.
 */
client_op_result client_op_encode(const client_op_context *ctx, const wsframe_msg *msg,
                                  int64_t ingest_time_us, uint8_t **out, size_t *out_len, char *why,
                                  size_t why_size);

/* Only the Yjs check: 0 when the engine accepts update, else -1 (why set). */
int client_op_check_update(const uint8_t *update, size_t len, char *why, size_t why_size);

#endif
