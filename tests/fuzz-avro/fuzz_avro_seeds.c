/*
 * Writes the seed corpus of fuzz_avro_decode into a directory (created if
 * needed): one valid record of every type
 * (and a ClientOp of the older revision 1), each prefixed with the selector
 * byte that makes the fuzz target decode it as its own type. Generated at test
 * time from the compiled-in schemas, so the seeds never go stale.
 *
 *   fuzz_avro_seeds <directory>
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/avro_codec.h"
#include "common/avro_records.h"
#include "common/avro_registry.h"

static int write_seed(const char *dir, const char *name, unsigned selector, const uint8_t *buf,
                      size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    uint8_t sel = (uint8_t)selector;
    int ok = fwrite(&sel, 1, 1, f) == 1 && fwrite(buf, 1, len, f) == len;
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "%s: write failed\n", path);
        return -1;
    }
    return 0;
}

static int seed_client_op_v1(const struct cavro_registry *reg, const char *dir)
{
    const struct cavro_schema *v1 = cavro_registry_by_file(reg, "client_op.v1.avsc");
    avro_value_t rec;
    if (v1 == NULL || avro_generic_value_new(v1->iface, &rec) != 0) {
        return -1;
    }
    avro_value_t v;
    int rc = avro_value_get_by_name(&rec, "payload", &v, NULL) != 0 ||
             avro_value_set_bytes(&v, (void *)"\x01\x00", 2) != 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    if (rc == 0 && cavro_encode(v1, &rec, &buf, &len, err, sizeof(err)) != CAVRO_OK) {
        fprintf(stderr, "client_op.v1: %s\n", err);
        rc = -1;
    }
    avro_value_decref(&rec);
    if (rc == 0) {
        rc = write_seed(dir, "client_op_v1", 0, buf, len);
    }
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
        perror(argv[1]);
        return 1;
    }
    struct cavro_registry *reg = NULL;
    char err[256];
    if (cavro_registry_new_builtin(&reg, err, sizeof(err)) != CAVRO_OK) {
        fprintf(stderr, "registry: %s\n", err);
        return 1;
    }
    struct cavro_clock_entry clock[] = {{1, 2}, {2, 1}};
    struct cavro_client_op op = {.doc_id = (char *)"doc",
                                 .op_id = (char *)"1:1",
                                 .client_id = 1,
                                 .user_id = (char *)"u",
                                 .kind = CAVRO_OP_YJS_UPDATE,
                                 .payload = {(uint8_t *)"\x01\x01", 2},
                                 .client_time_us = 1,
                                 .ingest_time_us = 2,
                                 .version_vector = {clock, 2},
                                 .ingest_node = (char *)"ingest-1"};
    struct cavro_merged_op merged = {.doc_id = (char *)"doc",
                                     .doc_version = 3,
                                     .op_id = (char *)"1:1",
                                     .kind = CAVRO_MERGED_YJS_UPDATE,
                                     .payload = {(uint8_t *)"\x00", 1},
                                     .state_vector = {1, {(uint8_t *)"\x01", 1}},
                                     .user_id = (char *)"u",
                                     .client_id = 1,
                                     .ingest_time_us = 1,
                                     .processed_time_us = 2,
                                     .source_partition = 0,
                                     .source_offset = 42};
    struct cavro_item_op item = {.item_id = (char *)"item",
                                 .value = {(uint8_t *)"v", 1},
                                 .clock = {clock, 2},
                                 .time_ms = 5,
                                 .client_id = 1};
    struct cavro_item_sibling siblings[] = {{{(uint8_t *)"a", 1}, {clock, 1}, 1, 1},
                                            {{(uint8_t *)"b", 1}, {clock + 1, 1}, 2, 2}};
    struct cavro_item_state state = {.item_id = (char *)"item",
                                     .version = 2,
                                     .revision = 3,
                                     .policy = CAVRO_POLICY_MANUAL,
                                     .siblings = siblings,
                                     .sibling_count = 2,
                                     .conflict = 1};
    struct cavro_dlq_record dlq = {{1, {(uint8_t *)"doc", 3}},
                                   {(uint8_t *)"\xc3\x01", 2},
                                   (char *)"collab.ops",
                                   1,
                                   7,
                                   (char *)"avro_truncated",
                                   (char *)"short",
                                   (char *)"processor",
                                   9};
    struct cavro_bytes items[] = {{(uint8_t *)"i", 1}};
    struct cavro_snapshot snap = {
        (char *)"doc", 3, {(uint8_t *)"\x00\x00", 2}, {(uint8_t *)"\x00", 1}, {items, 1}, 0, 42, 9};

    struct {
        const char *name;
        enum cavro_status rc;
        uint8_t *buf;
        size_t len;
    } seeds[7];
    memset(seeds, 0, sizeof(seeds));
    seeds[0].name = "client_op";
    seeds[0].rc = cavro_client_op_encode(reg, &op, &seeds[0].buf, &seeds[0].len, err, 256);
    seeds[1].name = "merged_op";
    seeds[1].rc = cavro_merged_op_encode(reg, &merged, &seeds[1].buf, &seeds[1].len, err, 256);
    seeds[2].name = "item_write";
    seeds[2].rc = cavro_item_write_encode(reg, &item, &seeds[2].buf, &seeds[2].len, err, 256);
    seeds[3].name = "item_resolve";
    seeds[3].rc = cavro_item_resolve_encode(reg, &item, &seeds[3].buf, &seeds[3].len, err, 256);
    seeds[4].name = "item_state";
    seeds[4].rc = cavro_item_state_encode(reg, &state, &seeds[4].buf, &seeds[4].len, err, 256);
    seeds[5].name = "dlq_record";
    seeds[5].rc = cavro_dlq_record_encode(reg, &dlq, &seeds[5].buf, &seeds[5].len, err, 256);
    seeds[6].name = "snapshot";
    seeds[6].rc = cavro_snapshot_encode(reg, &snap, &seeds[6].buf, &seeds[6].len, err, 256);

    int status = 0;
    for (unsigned i = 0; i < 7; i++) {
        if (seeds[i].rc != CAVRO_OK ||
            write_seed(argv[1], seeds[i].name, i, seeds[i].buf, seeds[i].len) != 0) {
            fprintf(stderr, "seed %s: %s\n", seeds[i].name, cavro_status_name(seeds[i].rc));
            status = 1;
        }
        free(seeds[i].buf);
    }
    if (seed_client_op_v1(reg, argv[1]) != 0) {
        status = 1;
    }
    cavro_registry_free(reg);
    return status;
}
