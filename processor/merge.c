/*
 * merge: one op into one document. See merge.h.
 */
#include "processor/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor/item_codec.h"

const char *pmerge_result_name(pmerge_result r)
{
    switch (r) {
    case PMERGE_MERGED:
        return "merged";
    case PMERGE_DUPLICATE:
        return "duplicate";
    case PMERGE_NOOP:
        return "noop";
    case PMERGE_POISON:
        return "poison";
    case PMERGE_FATAL:
        return "fatal";
    }
    return "unknown";
}

void pmerge_out_clear(pmerge_out *out)
{
    free(out->record);
    free(out->payload);
    memset(out, 0, sizeof *out);
}

/* reason = prefix followed by detail. */
static pmerge_result poison(pmerge_out *out, const char *code, const char *prefix,
                            const char *detail)
{
    snprintf(out->reason_code, sizeof out->reason_code, "%s", code);
    int n = snprintf(out->reason, sizeof out->reason, "%s%s", prefix, detail);
    if (n >= (int)sizeof out->reason) /* cut: a reason is for people, a prefix is enough */
        out->reason[sizeof out->reason - 1] = '\0';
    return PMERGE_POISON;
}

/* Encodes the MergedOp for d's new version; takes over payload. */
static pmerge_result emit(const struct cavro_registry *reg, pdoc *d,
                          const struct cavro_client_op *op, enum cavro_merged_kind kind,
                          uint8_t *payload, size_t payload_len, uint8_t *sv, size_t sv_len,
                          int32_t partition, int64_t offset, int64_t now_us, pmerge_out *out)
{
    struct cavro_merged_op m = {0};
    m.doc_id = d->id;
    m.doc_version = d->version + 1;
    m.op_id = op->op_id;
    m.kind = kind;
    m.payload.data = payload;
    m.payload.len = payload_len;
    m.state_vector.present = sv != NULL;
    m.state_vector.bytes.data = sv;
    m.state_vector.bytes.len = sv_len;
    m.user_id = op->user_id;
    m.client_id = op->client_id;
    m.ingest_time_us = op->ingest_time_us;
    m.processed_time_us = now_us;
    m.source_partition = partition;
    m.source_offset = offset;
    char why[256];
    enum cavro_status cs =
        cavro_merged_op_encode(reg, &m, &out->record, &out->record_len, why, sizeof why);
    free(sv);
    if (cs != CAVRO_OK) {
        free(payload);
        /* Only a string that is not UTF-8 can get here: ingest validated it,
         * so this is a bad record, not a bug of ours. */
        return poison(out, "merged_encode", "cannot encode the merged record: ", why);
    }
    d->version++;
    d->source_offset = offset;
    out->version = d->version;
    out->kind = kind;
    out->payload = payload;
    out->payload_len = payload_len;
    return PMERGE_MERGED;
}

static pmerge_result apply_yjs(const struct cavro_registry *reg, pdoc *d,
                               const struct cavro_client_op *op, int32_t partition, int64_t offset,
                               int64_t now_us, pmerge_out *out)
{
    crdt_apply_result result;
    crdt_status cs = crdt_apply_update(d->crdt, op->payload.data, op->payload.len, &result);
    if (cs == CRDT_ERR_NOMEM)
        return PMERGE_FATAL;
    if (cs != CRDT_OK)
        return poison(out, "yjs_rejected",
                      "the crdt engine rejected the update: ", crdt_strerror(cs));
    if (result == CRDT_DUPLICATE)
        return PMERGE_DUPLICATE;
    uint8_t *sv = NULL;
    size_t sv_len = 0;
    if (crdt_encode_state_vector(d->crdt, &sv, &sv_len) != CRDT_OK)
        return PMERGE_FATAL;
    /* Clients apply the op's own update: Yjs integrates what it lacks and
     * ignores the rest, so no diff has to be computed here. */
    uint8_t *payload = malloc(op->payload.len ? op->payload.len : 1);
    if (!payload) {
        free(sv);
        return PMERGE_FATAL;
    }
    if (op->payload.len)
        memcpy(payload, op->payload.data, op->payload.len);
    return emit(reg, d, op, CAVRO_MERGED_YJS_UPDATE, payload, op->payload.len, sv, sv_len,
                partition, offset, now_us, out);
}

static pmerge_result apply_item(const struct cavro_registry *reg, pdoc *d,
                                const struct cavro_client_op *op, int32_t partition, int64_t offset,
                                int64_t now_us, pmerge_out *out)
{
    bool resolve = op->kind == CAVRO_OP_ITEM_RESOLVE;
    struct cavro_item_op iop = {0};
    char why[256] = "";
    enum cavro_status cs = resolve
                               ? cavro_item_resolve_decode(reg, op->payload.data, op->payload.len,
                                                           &iop, why, sizeof why)
                               : cavro_item_write_decode(reg, op->payload.data, op->payload.len,
                                                         &iop, why, sizeof why);
    if (cs != CAVRO_OK)
        return poison(out, "item_undecodable", "item payload: ", why);
    pmerge_result r = PMERGE_NOOP;
    vclock clock;
    vclock_init(&clock);
    items_state *item = pdoc_item(d, iop.item_id);
    bool created = false;
    if (!item) {
        items_error ie = items_check_item_id(iop.item_id);
        if (ie != ITEMS_OK) {
            r = poison(out, "item_invalid", "item id: ", items_strerror(ie));
            goto done;
        }
        item = pdoc_add_item(d, iop.item_id);
        if (!item) {
            r = PMERGE_FATAL;
            goto done;
        }
        created = true;
    }
    if (pitem_clock_from_avro(&clock, &iop.clock, why, sizeof why) != 0) {
        r = poison(out, "item_invalid", "", why);
        goto done;
    }
    if (iop.time_ms < 0 || iop.client_id < 0) {
        r = poison(out, "item_invalid", "", "negative timestamp or client id");
        goto done;
    }
    bool was_conflict = items_in_conflict(item);
    items_write w = {.value = iop.value.data,
                     .value_len = iop.value.len,
                     .clock = &clock,
                     .timestamp_ms = (uint64_t)iop.time_ms,
                     .client_id = (uint64_t)iop.client_id};
    items_result res;
    items_error ie =
        resolve ? items_apply_resolve(item, &w, &res) : items_apply_write(item, &w, &res);
    if (ie == ITEMS_ERR_NOMEM) {
        r = PMERGE_FATAL;
        goto done;
    }
    if (res.outcome == ITEMS_REJECTED) {
        r = poison(out, resolve ? "item_resolve_rejected" : "item_rejected", "",
                   items_strerror(res.error));
        goto done;
    }
    if (!res.changed) {
        r = res.outcome == ITEMS_DUPLICATE ? PMERGE_DUPLICATE : PMERGE_NOOP;
        goto done;
    }
    bool now_conflict = items_in_conflict(item);
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    if (pitem_state_encode(reg, item, &payload, &payload_len, why, sizeof why) != 0) {
        r = PMERGE_FATAL;
        goto done;
    }
    r = emit(reg, d, op, now_conflict ? CAVRO_MERGED_ITEM_CONFLICT : CAVRO_MERGED_ITEM_STATE,
             payload, payload_len, NULL, 0, partition, offset, now_us, out);
    if (r == PMERGE_MERGED) {
        out->item = item;
        out->conflict_detected = !was_conflict && now_conflict;
        out->conflict_resolved = was_conflict && !now_conflict;
        created = false;
    }
done:
    if (created && r != PMERGE_MERGED)
        pdoc_remove_item(d, item);
    vclock_free(&clock);
    cavro_item_op_clear(&iop);
    return r;
}

pmerge_result pmerge_apply(const struct cavro_registry *reg, pdoc *d,
                           const struct cavro_client_op *op, int32_t partition, int64_t offset,
                           int64_t now_us, pmerge_out *out)
{
    memset(out, 0, sizeof *out);
    if (!op->op_id[0])
        return poison(out, "invalid_op", "", "empty op id");
    if (pdoc_seen_op(d, op->op_id))
        return PMERGE_DUPLICATE;
    pmerge_result r;
    switch (op->kind) {
    case CAVRO_OP_YJS_UPDATE:
        r = apply_yjs(reg, d, op, partition, offset, now_us, out);
        break;
    case CAVRO_OP_ITEM_WRITE:
    case CAVRO_OP_ITEM_RESOLVE:
        r = apply_item(reg, d, op, partition, offset, now_us, out);
        break;
    default:
        r = poison(out, "invalid_op", "", "unknown op kind");
        break;
    }
    if ((r == PMERGE_MERGED || r == PMERGE_DUPLICATE) && !pdoc_remember_op(d, op->op_id))
        return PMERGE_FATAL;
    return r;
}

int pmerge_load_item(const struct cavro_registry *reg, pdoc *d, const uint8_t *buf, size_t len,
                     char *err, size_t err_size)
{
    items_state s;
    if (pitem_state_decode(reg, buf, len, &s, err, err_size) != 0)
        return -1;
    const items_state *have = pdoc_item(d, s.item_id);
    if (have && have->revision >= s.revision) {
        items_state_free(&s);
        return 0;
    }
    if (!pdoc_put_item(d, &s)) {
        items_state_free(&s);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

int pmerge_replay(const struct cavro_registry *reg, pdoc *d, const struct cavro_merged_op *m,
                  char *err, size_t err_size)
{
    int rc = 0;
    if (m->kind == CAVRO_MERGED_YJS_UPDATE) {
        crdt_status cs = crdt_apply_update(d->crdt, m->payload.data, m->payload.len, NULL);
        if (cs != CRDT_OK) {
            snprintf(err, err_size, "replay version %lld: %s", (long long)m->doc_version,
                     crdt_strerror(cs));
            rc = -1;
        }
    } else {
        rc = pmerge_load_item(reg, d, m->payload.data, m->payload.len, err, err_size);
    }
    if (m->doc_version > d->version) {
        d->version = m->doc_version;
        d->source_offset = m->source_offset;
    }
    if (!pdoc_remember_op(d, m->op_id) && rc == 0) {
        snprintf(err, err_size, "out of memory");
        rc = -1;
    }
    return rc;
}
