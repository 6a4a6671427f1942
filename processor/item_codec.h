/*
 * item_codec: converts between the Avro item records of the Kafka topics
 * (ItemWrite/ItemResolve payloads of collab.ops, ItemState payloads of
 * collab.merged and of snapshots) and the items_state/items_write structs of
 * the items rules (items.h). The processor uses it to apply item ops and to
 * publish and recover item states. Prefix: pitem_.
 */
#ifndef PROCESSOR_ITEM_CODEC_H
#define PROCESSOR_ITEM_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/avro_records.h"
#include "processor/items.h"

/* Converts an Avro clock into out (initialised by the caller; replaced on
 * success). Returns 0, or -1 with the reason in err. */
int pitem_clock_from_avro(vclock *out, const struct cavro_clock *clock, char *err, size_t err_size);

/*
 * Encodes s as a single-object ItemState record. *out is malloc'd (caller
 * frees). Returns 0, or -1 with the reason in err.
 */
int pitem_state_encode(const struct cavro_registry *reg, const items_state *s, uint8_t **out,
                       size_t *out_len, char *err, size_t err_size);

/*
 * Decodes a single-object ItemState record into a new state (release with
 * items_state_free), validating it like a stored state (items_json.h).
 * Returns 0, or -1 with the reason in err (nothing allocated then).
 */
int pitem_state_decode(const struct cavro_registry *reg, const uint8_t *buf, size_t len,
                       items_state *out, char *err, size_t err_size);

#endif
