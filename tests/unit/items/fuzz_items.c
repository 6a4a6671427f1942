/*
 * libFuzzer target for everything in the items module that reads outside
 * input: the binary and JSON vector clock decoders and the stored item state
 * loader. The first byte picks the decoder; the rest is the input. Besides
 * "no crash, no leak" it checks the properties the processor relies on:
 * a decoded binary clock re-encodes to the very same bytes (one clock, one
 * encoding), JSON forms round-trip, and a loaded state accepts a write and a
 * resolve like any other.
 */
#include "processor/items.h"
#include "processor/items_json.h"
#include "processor/vclock.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool condition)
{
    if (!condition) {
        abort();
    }
}

static void fuzz_binary_clock(const uint8_t *data, size_t size)
{
    vclock c;
    vclock_init(&c);
    size_t consumed = 0;
    if (vclock_decode(&c, data, size, &consumed) == VCLOCK_OK) {
        uint8_t *again = malloc(consumed + 1);
        require(again != NULL);
        size_t written = 0;
        require(vclock_encode(&c, again, consumed + 1, &written) == VCLOCK_OK);
        require(written == consumed && memcmp(again, data, consumed) == 0);
        free(again);
    }
    vclock_free(&c);
}

static void fuzz_json_clock(const uint8_t *data, size_t size)
{
    json_t *json = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!json) {
        return;
    }
    vclock c, back;
    vclock_init(&c);
    vclock_init(&back);
    if (vclock_from_json(&c, json) == VCLOCK_OK) {
        json_t *out = vclock_to_json(&c);
        require(out != NULL);
        require(vclock_from_json(&back, out) == VCLOCK_OK && vclock_equal(&c, &back));
        json_decref(out);
    }
    vclock_free(&c);
    vclock_free(&back);
    json_decref(json);
}

static char *state_text(const items_state *s)
{
    json_t *json = items_state_to_json(s);
    require(json != NULL);
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    require(text != NULL);
    return text;
}

static void fuzz_state(const uint8_t *data, size_t size)
{
    json_t *json = json_loadb((const char *)data, size, 0, NULL);
    if (!json) {
        return;
    }
    items_state s;
    char why[256];
    if (items_state_from_json(&s, json, why, sizeof(why)) == ITEMS_OK) {
        char *text = state_text(&s);
        json_t *reparsed = json_loads(text, 0, NULL);
        require(reparsed != NULL);
        items_state back;
        require(items_state_from_json(&back, reparsed, why, sizeof(why)) == ITEMS_OK);
        char *again = state_text(&back);
        require(strcmp(text, again) == 0);
        free(text);
        free(again);
        json_decref(reparsed);
        items_state_free(&back);

        /* A write from a new client, then a resolve that has seen everything. */
        vclock clock;
        vclock_init(&clock);
        require(vclock_set(&clock, 4242, 1) == VCLOCK_OK);
        items_write w = {(const uint8_t *)"fuzz", 4, &clock, 1, 4242};
        items_result r;
        items_error error = items_apply_write(&s, &w, &r);
        require(error == ITEMS_OK || error == ITEMS_ERR_TOO_MANY_SIBLINGS ||
                error == ITEMS_ERR_CLOCK_TOO_LARGE);
        if (s.sibling_count > 0 && vclock_copy(&clock, &s.clock) == VCLOCK_OK &&
            vclock_increment(&clock, 4242) == VCLOCK_OK) {
            error = items_apply_resolve(&s, &w, &r);
            require(error == ITEMS_OK || error == ITEMS_ERR_CLOCK_TOO_LARGE);
            require(error != ITEMS_OK || (r.outcome == ITEMS_RESOLVED && s.sibling_count == 1));
        }
        vclock_free(&clock);
        items_state_free(&s);
    }
    json_decref(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0:
        fuzz_binary_clock(data + 1, size - 1);
        break;
    case 1:
        fuzz_json_clock(data + 1, size - 1);
        break;
    default:
        fuzz_state(data + 1, size - 1);
        break;
    }
    return 0;
}
