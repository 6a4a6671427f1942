/*
 * cli.c - crdt-cli, the command-line face of the engine for tools and tests
 * (differential tests against Yjs, benchmarks, debugging). All file I/O of the engine lives
 * here; the library itself does none. Run `crdt-cli --help` for the commands.
 */
#include "crdt/crdt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: crdt-cli COMMAND ...\n"
    "  merge [--stream] [--v2] [--no-gc] OUT IN...\n"
    "        apply the updates in order to an empty document, write its state (v1) to OUT;\n"
    "        --stream: the single IN holds records [u32 LE length][update];\n"
    "        --v2: the inputs are v2 updates; --no-gc: keep deleted content\n"
    "  json STATE ROOT:KIND...   print {ROOT: content}; KIND is text, array, map or xml\n"
    "  delta STATE ROOT          print the Yjs delta of root text ROOT\n"
    "  sv STATE                  print the state vector as {\"client\": clock}\n"
    "  diff STATE SV OUT         write what STATE has beyond the encoded state vector SV\n"
    "  encode [--v2] STATE OUT   re-encode the v1 update STATE as v1 (default) or v2\n"
    "  contains STATE UPDATE     print true if STATE already contains UPDATE, else false\n"
    "STATE, IN, UPDATE and OUT are files holding v1 updates unless said otherwise.\n";

typedef struct file_buf {
    uint8_t *data;
    size_t len;
} file_buf;

static int read_file(const char *path, file_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "crdt-cli: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *data = malloc(cap);
    while (data) {
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (len < cap)
            break;
        cap *= 2;
        uint8_t *more = realloc(data, cap);
        if (!more) {
            free(data);
            data = NULL;
        } else {
            data = more;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (!data || failed) {
        free(data);
        fprintf(stderr, "crdt-cli: cannot read %s\n", path);
        return -1;
    }
    out->data = data;
    out->len = len;
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "crdt-cli: cannot create %s\n", path);
        return -1;
    }
    size_t n = fwrite(data, 1, len, f);
    if (fclose(f) != 0 || n != len) {
        fprintf(stderr, "crdt-cli: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int fail(const char *what, crdt_status st)
{
    fprintf(stderr, "crdt-cli: %s: %s\n", what, crdt_strerror(st));
    return 1;
}

/* A document holding the v1 update in file path (caller frees). */
static crdt_doc *load_doc(const char *path)
{
    file_buf f;
    if (read_file(path, &f) != 0)
        return NULL;
    crdt_doc *doc;
    crdt_status st = crdt_doc_new(NULL, &doc);
    if (st == CRDT_OK) {
        st = crdt_apply_update(doc, f.data, f.len, NULL);
        if (st != CRDT_OK)
            crdt_doc_free(doc);
    }
    free(f.data);
    if (st != CRDT_OK) {
        fail(path, st);
        return NULL;
    }
    return doc;
}

static int write_state(crdt_doc *doc, const uint8_t *sv, size_t sv_len, int v2, const char *out)
{
    uint8_t *bytes;
    size_t len;
    crdt_status st = v2 ? crdt_encode_state_v2(doc, sv, sv_len, &bytes, &len)
                        : crdt_encode_state(doc, sv, sv_len, &bytes, &len);
    if (st != CRDT_OK)
        return fail("encoding", st);
    int rc = write_file(out, bytes, len) == 0 ? 0 : 1;
    free(bytes);
    return rc;
}

static int apply_one(crdt_doc *doc, const uint8_t *p, size_t n, int v2, const char *what)
{
    crdt_status st =
        v2 ? crdt_apply_update_v2(doc, p, n, NULL) : crdt_apply_update(doc, p, n, NULL);
    return st == CRDT_OK ? 0 : fail(what, st);
}

static int cmd_merge(int argc, char **argv)
{
    int stream = 0, v2 = 0, gc = 1, i = 0;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--stream") == 0)
            stream = 1;
        else if (strcmp(argv[i], "--v2") == 0)
            v2 = 1;
        else if (strcmp(argv[i], "--no-gc") == 0)
            gc = 0;
        else {
            fprintf(stderr, "crdt-cli: merge: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i < 2 || (stream && argc - i != 2)) {
        fprintf(stderr, "crdt-cli: merge: expected OUT and %s\n", stream ? "one IN" : "IN...");
        return 2;
    }
    const char *out = argv[i++];
    crdt_options opts;
    crdt_options_init(&opts);
    opts.gc = gc;
    crdt_doc *doc;
    crdt_status st = crdt_doc_new(&opts, &doc);
    if (st != CRDT_OK)
        return fail("creating document", st);
    int rc = 0;
    for (; i < argc && rc == 0; i++) {
        file_buf f;
        if (read_file(argv[i], &f) != 0) {
            rc = 1;
            break;
        }
        if (!stream) {
            rc = apply_one(doc, f.data, f.len, v2, argv[i]);
        } else {
            size_t pos = 0, record = 0;
            while (pos < f.len && rc == 0) {
                if (f.len - pos < 4) {
                    fprintf(stderr, "crdt-cli: %s: truncated record header at byte %zu\n", argv[i],
                            pos);
                    rc = 1;
                    break;
                }
                const uint8_t *h = f.data + pos;
                size_t len =
                    (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
                pos += 4;
                if (len > f.len - pos) {
                    fprintf(stderr, "crdt-cli: %s: record %zu is truncated\n", argv[i], record);
                    rc = 1;
                    break;
                }
                crdt_status ast = v2 ? crdt_apply_update_v2(doc, f.data + pos, len, NULL)
                                     : crdt_apply_update(doc, f.data + pos, len, NULL);
                if (ast != CRDT_OK) {
                    fprintf(stderr, "crdt-cli: %s: record %zu: %s\n", argv[i], record,
                            crdt_strerror(ast));
                    rc = 1;
                }
                pos += len;
                record++;
            }
        }
        free(f.data);
    }
    if (rc == 0)
        rc = write_state(doc, NULL, 0, 0, out);
    crdt_doc_free(doc);
    return rc;
}

static int print_and_free(char *s, crdt_status st, const char *what)
{
    if (st != CRDT_OK)
        return fail(what, st);
    fputs(s, stdout);
    free(s);
    return 0;
}

static int cmd_json(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "crdt-cli: json: expected STATE ROOT:KIND...\n");
        return 2;
    }
    crdt_doc *doc = load_doc(argv[0]);
    if (!doc)
        return 1;
    int rc = 0;
    fputc('{', stdout);
    for (int i = 1; i < argc && rc == 0; i++) {
        char *spec = argv[i];
        char *colon = strrchr(spec, ':');
        if (!colon || colon == spec) {
            fprintf(stderr, "crdt-cli: json: expected ROOT:KIND, got %s\n", spec);
            rc = 2;
            break;
        }
        *colon = 0;
        const char *kind = colon + 1;
        char *s = NULL;
        size_t s_len = 0; /* set for text and xml, whose content may hold U+0000 */
        crdt_status st;
        if (strcmp(kind, "text") == 0)
            st = crdt_read_text_len(doc, spec, NULL, 0, &s, &s_len);
        else if (strcmp(kind, "array") == 0)
            st = crdt_read_array_json(doc, spec, NULL, 0, &s);
        else if (strcmp(kind, "map") == 0)
            st = crdt_read_map_json(doc, spec, NULL, 0, &s);
        else if (strcmp(kind, "xml") == 0)
            st = crdt_read_xml_len(doc, spec, NULL, 0, &s, &s_len);
        else {
            fprintf(stderr, "crdt-cli: json: unknown kind %s (text, array, map, xml)\n", kind);
            rc = 2;
            break;
        }
        if (st != CRDT_OK) {
            rc = fail(spec, st);
            break;
        }
        if (i > 1)
            fputc(',', stdout);
        /* Root names are written as JSON strings; text and xml values are strings too. */
        fputc('"', stdout);
        for (const char *c = spec; *c; c++) {
            if (*c == '"' || *c == '\\')
                printf("\\%c", *c);
            else if ((unsigned char)*c < 0x20)
                printf("\\u%04x", (unsigned char)*c);
            else
                fputc(*c, stdout);
        }
        fputs("\":", stdout);
        if (strcmp(kind, "text") == 0 || strcmp(kind, "xml") == 0) {
            fputc('"', stdout);
            const unsigned char *end = (const unsigned char *)s + s_len;
            for (const unsigned char *c = (const unsigned char *)s; c < end; c++) {
                switch (*c) {
                case '"':
                    fputs("\\\"", stdout);
                    break;
                case '\\':
                    fputs("\\\\", stdout);
                    break;
                case '\n':
                    fputs("\\n", stdout);
                    break;
                case '\r':
                    fputs("\\r", stdout);
                    break;
                case '\t':
                    fputs("\\t", stdout);
                    break;
                case '\b':
                    fputs("\\b", stdout);
                    break;
                case '\f':
                    fputs("\\f", stdout);
                    break;
                default:
                    if (*c < 0x20)
                        printf("\\u%04x", *c);
                    else
                        fputc(*c, stdout);
                }
            }
            fputc('"', stdout);
        } else {
            fputs(s, stdout);
        }
        free(s);
    }
    if (rc == 0)
        fputs("}\n", stdout);
    crdt_doc_free(doc);
    return rc;
}

static int cmd_delta(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "crdt-cli: delta: expected STATE ROOT\n");
        return 2;
    }
    crdt_doc *doc = load_doc(argv[0]);
    if (!doc)
        return 1;
    char *s = NULL;
    crdt_status st = crdt_read_delta(doc, argv[1], NULL, 0, &s);
    int rc = print_and_free(s, st, argv[1]);
    if (rc == 0)
        fputc('\n', stdout);
    crdt_doc_free(doc);
    return rc;
}

static int cmd_sv(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "crdt-cli: sv: expected STATE\n");
        return 2;
    }
    crdt_doc *doc = load_doc(argv[0]);
    if (!doc)
        return 1;
    char *s = NULL;
    crdt_status st = crdt_state_vector_json(doc, &s);
    int rc = print_and_free(s, st, "state vector");
    if (rc == 0)
        fputc('\n', stdout);
    crdt_doc_free(doc);
    return rc;
}

static int cmd_diff(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "crdt-cli: diff: expected STATE SV OUT\n");
        return 2;
    }
    crdt_doc *doc = load_doc(argv[0]);
    if (!doc)
        return 1;
    file_buf sv;
    int rc = 1;
    if (read_file(argv[1], &sv) == 0) {
        rc = write_state(doc, sv.data, sv.len, 0, argv[2]);
        free(sv.data);
    }
    crdt_doc_free(doc);
    return rc;
}

static int cmd_encode(int argc, char **argv)
{
    int v2 = 0, i = 0;
    if (argc > 0 && strcmp(argv[0], "--v2") == 0) {
        v2 = 1;
        i = 1;
    }
    if (argc - i != 2) {
        fprintf(stderr, "crdt-cli: encode: expected [--v2] STATE OUT\n");
        return 2;
    }
    crdt_doc *doc = load_doc(argv[i]);
    if (!doc)
        return 1;
    int rc = write_state(doc, NULL, 0, v2, argv[i + 1]);
    crdt_doc_free(doc);
    return rc;
}

static int cmd_contains(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "crdt-cli: contains: expected STATE UPDATE\n");
        return 2;
    }
    crdt_doc *doc = load_doc(argv[0]);
    if (!doc)
        return 1;
    file_buf u;
    int rc = 1;
    if (read_file(argv[1], &u) == 0) {
        int yes;
        crdt_status st = crdt_contains_update(doc, u.data, u.len, &yes);
        if (st == CRDT_OK) {
            puts(yes ? "true" : "false");
            rc = 0;
        } else {
            rc = fail(argv[1], st);
        }
        free(u.data);
    }
    crdt_doc_free(doc);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    }
    int n = argc - 2;
    char **args = argv + 2;
    int rc;
    if (strcmp(cmd, "merge") == 0)
        rc = cmd_merge(n, args);
    else if (strcmp(cmd, "json") == 0)
        rc = cmd_json(n, args);
    else if (strcmp(cmd, "delta") == 0)
        rc = cmd_delta(n, args);
    else if (strcmp(cmd, "sv") == 0)
        rc = cmd_sv(n, args);
    else if (strcmp(cmd, "diff") == 0)
        rc = cmd_diff(n, args);
    else if (strcmp(cmd, "encode") == 0)
        rc = cmd_encode(n, args);
    else if (strcmp(cmd, "contains") == 0)
        rc = cmd_contains(n, args);
    else {
        fprintf(stderr, "crdt-cli: unknown command %s (try --help)\n", cmd);
        return 2;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "crdt-cli: cannot write output\n");
        return 1;
    }
    return rc;
}
