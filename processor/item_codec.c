/*
 * item_codec: Avro item records <-> items structs. Decoding goes through the
 * JSON loader of items_json.c, so a state read back from Kafka is validated by
 * exactly the rules that validate a state read back from MongoDB.
 */
#include "processor/item_codec.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor/items_json.h"

int pitem_clock_from_avro(vclock *out, const struct cavro_clock *clock, char *err, size_t err_size)
{
    vclock_entry *entries = calloc(clock->count ? clock->count : 1, sizeof *entries);
    if (!entries) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < clock->count; i++) {
        entries[i].client_id = (uint64_t)clock->entries[i].client_id;
        entries[i].counter = (uint64_t)clock->entries[i].counter;
    }
    vclock_status st = vclock_from_entries(out, entries, clock->count);
    free(entries);
    if (st != VCLOCK_OK) {
        snprintf(err, err_size, "clock: %s", vclock_strerror(st));
        return -1;
    }
    return 0;
}

static int clock_to_avro(const vclock *c, struct cavro_clock *out)
{
    out->count = c->count;
    out->entries = calloc(c->count ? c->count : 1, sizeof *out->entries);
    if (!out->entries)
        return -1;
    for (size_t i = 0; i < c->count; i++) {
        out->entries[i].client_id = (int64_t)c->entries[i].client_id;
        out->entries[i].counter = (int64_t)c->entries[i].counter;
    }
    return 0;
}

int pitem_state_encode(const struct cavro_registry *reg, const items_state *s, uint8_t **out,
                       size_t *out_len, char *err, size_t err_size)
{
    struct cavro_item_state rec = {0};
    rec.item_id = s->item_id;
    rec.version = (int64_t)s->version;
    rec.revision = (int64_t)s->revision;
    rec.policy = s->policy == ITEMS_POLICY_LWW ? CAVRO_POLICY_LWW : CAVRO_POLICY_MANUAL;
    rec.conflict = items_in_conflict(s) ? 1 : 0;
    rec.sibling_count = s->sibling_count;
    rec.siblings = calloc(s->sibling_count ? s->sibling_count : 1, sizeof *rec.siblings);
    int rc = rec.siblings ? 0 : -1;
    /* The schema puts the shown value first under lww; the rest keep the
     * state's canonical order. */
    const items_sibling *shown = s->policy == ITEMS_POLICY_LWW ? items_current(s) : NULL;
    size_t next = shown ? 1 : 0;
    for (size_t i = 0; rc == 0 && i < s->sibling_count; i++) {
        const items_sibling *src = &s->siblings[i];
        struct cavro_item_sibling *dst =
            shown && src == shown ? &rec.siblings[0] : &rec.siblings[next++];
        dst->value.data = src->value;
        dst->value.len = src->value_len;
        dst->time_ms = (int64_t)src->timestamp_ms;
        dst->client_id = (int64_t)src->client_id;
        rc = clock_to_avro(&src->clock, &dst->clock);
    }
    if (rc != 0) {
        snprintf(err, err_size, "out of memory");
    } else if (cavro_item_state_encode(reg, &rec, out, out_len, err, err_size) != CAVRO_OK) {
        rc = -1;
    }
    for (size_t i = 0; rec.siblings && i < s->sibling_count; i++)
        free(rec.siblings[i].clock.entries);
    free(rec.siblings);
    return rc;
}

static json_t *clock_json(const struct cavro_clock *c)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < c->count; i++) {
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)c->entries[i].client_id);
        if (json_object_set_new(obj, key, json_integer(c->entries[i].counter)) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static json_t *sibling_json(const struct cavro_item_sibling *s)
{
    size_t b64_len = sodium_base64_encoded_len(s->value.len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_len);
    if (!b64)
        return NULL;
    sodium_bin2base64(b64, b64_len, s->value.data ? s->value.data : (const uint8_t *)"",
                      s->value.len, sodium_base64_VARIANT_ORIGINAL);
    json_t *obj = json_pack("{s:s, s:o, s:I, s:I}", "value_base64", b64, "vector_clock",
                            clock_json(&s->clock), "timestamp_ms", (json_int_t)s->time_ms,
                            "client_id", (json_int_t)s->client_id);
    free(b64);
    return obj;
}

int pitem_state_decode(const struct cavro_registry *reg, const uint8_t *buf, size_t len,
                       items_state *out, char *err, size_t err_size)
{
    struct cavro_item_state rec = {0};
    if (cavro_item_state_decode(reg, buf, len, &rec, err, err_size) != CAVRO_OK)
        return -1;
    json_t *siblings = json_array();
    vclock merged;
    vclock_init(&merged);
    int rc = siblings ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < rec.sibling_count; i++) {
        vclock c;
        vclock_init(&c);
        if (pitem_clock_from_avro(&c, &rec.siblings[i].clock, err, err_size) != 0 ||
            vclock_merge(&merged, &c) != VCLOCK_OK ||
            json_array_append_new(siblings, sibling_json(&rec.siblings[i])) != 0)
            rc = -1;
        vclock_free(&c);
    }
    json_t *obj = NULL;
    if (rc == 0) {
        obj = json_pack("{s:s, s:s, s:I, s:I, s:o, s:O}", "item_id", rec.item_id, "policy",
                        rec.policy == CAVRO_POLICY_LWW ? "lww" : "manual", "version",
                        (json_int_t)rec.version, "revision", (json_int_t)rec.revision,
                        "vector_clock", vclock_to_json(&merged), "siblings", siblings);
        if (!obj)
            rc = -1;
    }
    if (rc == 0) {
        char why[256];
        items_error ie = items_state_from_json(out, obj, why, sizeof why);
        if (ie != ITEMS_OK) {
            snprintf(err, err_size, "item state: %s", why);
            rc = -1;
        }
    } else if (err_size && !err[0]) {
        snprintf(err, err_size, "out of memory");
    }
    json_decref(obj);
    json_decref(siblings);
    vclock_free(&merged);
    cavro_item_state_clear(&rec);
    return rc;
}
