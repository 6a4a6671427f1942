/*
 * JWT access tokens (common/auth_token.c): issue and verify with HS256, RS256
 * and ES256, and every way a token or a configuration is refused, each with
 * its own reason. Forged tokens are built here by hand (base64url and
 * HMAC-SHA256 from libsodium). Two tests pin down libjwt 1.10's own behaviour
 * that auth_token.c guards against: it accepts `none` when given no key, and
 * an HS256 token keyed with the RSA public key when given that key.
 *
 * argv[1]: directory of the key pairs made by gen_test_keys.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jwt.h>
#include <sodium.h>

#include "common/auth_token.h"

#define NOW 1763800000LL /* a fixed "now": tests never read the clock */

static const char *keys_dir;

static const uint8_t secret[] = "0123456789abcdef0123456789abcdef-test-only";
static const uint8_t other_secret[] = "fedcba9876543210fedcba9876543210-test-only";

static char *read_key(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", keys_dir, name);
    char *pem = NULL;
    char err[256];
    if (authtoken_read_key_file(path, &pem, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    return pem;
}

static struct authtoken_config hs_config(void)
{
    struct authtoken_config c = {.alg = AUTHTOKEN_HS256,
                                 .secret = secret,
                                 .secret_len = sizeof(secret) - 1,
                                 .issuer = "collab-test",
                                 .audience = "collab-api",
                                 .ttl_seconds = 600,
                                 .leeway_seconds = 30};
    return c;
}

static struct authtoken_keys *make_keys(const struct authtoken_config *c)
{
    struct authtoken_keys *k = NULL;
    char err[256];
    enum authtoken_status rc = authtoken_keys_new(c, &k, err, sizeof(err));
    if (rc != AUTHTOKEN_OK) {
        fail_msg("keys: %s: %s", authtoken_status_name(rc), err);
    }
    return k;
}

static enum authtoken_status config_status(const struct authtoken_config *c)
{
    struct authtoken_keys *k = NULL;
    char err[256] = "";
    enum authtoken_status rc = authtoken_keys_new(c, &k, err, sizeof(err));
    if (rc == AUTHTOKEN_OK) {
        authtoken_keys_free(k);
    } else {
        assert_null(k);
        assert_true(err[0] != '\0');
    }
    return rc;
}

static enum authtoken_status verify(const struct authtoken_keys *k, const char *token, int64_t now)
{
    struct authtoken_claims claims;
    enum authtoken_status rc = authtoken_verify(k, token, strlen(token), now, &claims);
    if (rc != AUTHTOKEN_OK) {
        assert_null(claims.sub);
    }
    authtoken_claims_clear(&claims);
    return rc;
}

/* base64url without padding of `len` bytes, appended to `out`. */
static void b64_append(char *out, size_t cap, const void *data, size_t len)
{
    size_t used = strlen(out);
    size_t need = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_true(used + need <= cap);
    sodium_bin2base64(out + used, cap - used, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload[.HMAC-SHA256(key)] from JSON texts; key NULL leaves the signature empty. */
static char *forge(const char *header, const char *payload, const uint8_t *key, size_t key_len)
{
    size_t cap = 4096;
    char *token = calloc(1, cap);
    assert_non_null(token);
    b64_append(token, cap, header, strlen(header));
    token[strlen(token)] = '.';
    b64_append(token, cap, payload, strlen(payload));
    token[strlen(token)] = '.';
    if (key != NULL) {
        crypto_auth_hmacsha256_state st;
        uint8_t mac[crypto_auth_hmacsha256_BYTES];
        assert_int_equal(crypto_auth_hmacsha256_init(&st, key, key_len), 0);
        assert_int_equal(
            crypto_auth_hmacsha256_update(&st, (const uint8_t *)token, strlen(token) - 1), 0);
        assert_int_equal(crypto_auth_hmacsha256_final(&st, mac), 0);
        b64_append(token, cap, mac, sizeof(mac));
    }
    return token;
}

static char *claims_json(const char *extra_or_replacement)
{
    char *json = malloc(1024);
    assert_non_null(json);
    snprintf(json, 1024,
             "{\"sub\":\"u1\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j1\","
             "\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld%s}",
             NOW, NOW, NOW + 600, extra_or_replacement);
    return json;
}

static const char hs_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static void test_hs256_issue_and_verify(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    struct authtoken_keys *k = make_keys(&c);
    char *token = NULL;
    struct authtoken_claims issued;
    assert_int_equal(authtoken_issue(k, "user-42", "Ada L.", NOW, &token, &issued), AUTHTOKEN_OK);
    assert_int_equal(issued.exp, NOW + 600);
    assert_int_equal(strlen(issued.jti), 32);

    struct authtoken_claims got;
    assert_int_equal(authtoken_verify(k, token, strlen(token), NOW, &got), AUTHTOKEN_OK);
    assert_string_equal(got.sub, "user-42");
    assert_string_equal(got.name, "Ada L.");
    assert_string_equal(got.jti, issued.jti);
    assert_int_equal(got.iat, NOW);
    assert_int_equal(got.nbf, NOW);
    assert_int_equal(got.exp, NOW + 600);
    authtoken_claims_clear(&got);

    /* Every token gets its own id. */
    char *second = NULL;
    struct authtoken_claims issued2;
    assert_int_equal(authtoken_issue(k, "user-42", NULL, NOW, &second, &issued2), AUTHTOKEN_OK);
    assert_string_not_equal(issued.jti, issued2.jti);
    assert_string_equal(issued2.name, "");
    authtoken_claims_clear(&issued);
    authtoken_claims_clear(&issued2);
    free(second);
    free(token);
    authtoken_keys_free(k);
}

static void test_time_claims_with_leeway(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    struct authtoken_keys *k = make_keys(&c);
    char *token = NULL;
    assert_int_equal(authtoken_issue(k, "u", NULL, NOW, &token, NULL), AUTHTOKEN_OK);
    /* exp = NOW + 600, leeway 30 */
    assert_int_equal(verify(k, token, NOW + 629), AUTHTOKEN_OK);
    assert_int_equal(verify(k, token, NOW + 630), AUTHTOKEN_ERR_EXPIRED);
    assert_int_equal(verify(k, token, NOW + 100000), AUTHTOKEN_ERR_EXPIRED);
    /* nbf = iat = NOW */
    assert_int_equal(verify(k, token, NOW - 30), AUTHTOKEN_OK);
    assert_int_equal(verify(k, token, NOW - 31), AUTHTOKEN_ERR_NOT_YET_VALID);
    free(token);

    /* nbf later than iat, and iat alone in the future. */
    char body[512];
    snprintf(body, sizeof(body),
             "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\","
             "\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}",
             NOW, NOW + 100, NOW + 600);
    char *forged = forge(hs_header, body, secret, sizeof(secret) - 1);
    assert_int_equal(verify(k, forged, NOW + 69), AUTHTOKEN_ERR_NOT_YET_VALID);
    assert_int_equal(verify(k, forged, NOW + 70), AUTHTOKEN_OK);
    free(forged);
    snprintf(body, sizeof(body),
             "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\","
             "\"iat\":%lld,\"exp\":%lld.5}",
             NOW + 1000, NOW + 2000);
    forged = forge(hs_header, body, secret, sizeof(secret) - 1);
    assert_int_equal(verify(k, forged, NOW), AUTHTOKEN_ERR_NOT_YET_VALID);
    assert_int_equal(verify(k, forged, NOW + 1000), AUTHTOKEN_OK);
    free(forged);

    /* No leeway at all. */
    c.leeway_seconds = 0;
    struct authtoken_keys *strict = make_keys(&c);
    assert_int_equal(authtoken_issue(strict, "u", NULL, NOW, &token, NULL), AUTHTOKEN_OK);
    assert_int_equal(verify(strict, token, NOW + 599), AUTHTOKEN_OK);
    assert_int_equal(verify(strict, token, NOW + 600), AUTHTOKEN_ERR_EXPIRED);
    assert_int_equal(verify(strict, token, NOW - 1), AUTHTOKEN_ERR_NOT_YET_VALID);
    free(token);
    authtoken_keys_free(strict);
    authtoken_keys_free(k);
}

static void test_issuer_audience_and_key(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    struct authtoken_keys *k = make_keys(&c);
    char *token = NULL;
    assert_int_equal(authtoken_issue(k, "u", NULL, NOW, &token, NULL), AUTHTOKEN_OK);

    struct authtoken_config other = c;
    other.issuer = "someone-else";
    struct authtoken_keys *k2 = make_keys(&other);
    assert_int_equal(verify(k2, token, NOW), AUTHTOKEN_ERR_WRONG_ISSUER);
    authtoken_keys_free(k2);

    other = c;
    other.audience = "another-api";
    k2 = make_keys(&other);
    assert_int_equal(verify(k2, token, NOW), AUTHTOKEN_ERR_WRONG_AUDIENCE);
    authtoken_keys_free(k2);

    other = c;
    other.secret = other_secret;
    other.secret_len = sizeof(other_secret) - 1;
    k2 = make_keys(&other);
    assert_int_equal(verify(k2, token, NOW), AUTHTOKEN_ERR_BAD_SIGNATURE);
    authtoken_keys_free(k2);
    free(token);

    /* aud may be a list that contains us. */
    char *body = malloc(512);
    assert_non_null(body);
    snprintf(body, 512,
             "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":[\"x\",\"collab-api\"],\"jti\":\"j\","
             "\"exp\":%lld}",
             NOW + 10);
    char *forged = forge(hs_header, body, secret, sizeof(secret) - 1);
    assert_int_equal(verify(k, forged, NOW), AUTHTOKEN_OK);
    free(forged);
    snprintf(body, 512,
             "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":[\"x\",\"y\"],\"jti\":\"j\","
             "\"exp\":%lld}",
             NOW + 10);
    forged = forge(hs_header, body, secret, sizeof(secret) - 1);
    assert_int_equal(verify(k, forged, NOW), AUTHTOKEN_ERR_WRONG_AUDIENCE);
    free(forged);
    free(body);
    authtoken_keys_free(k);
}

static void test_tampering_is_detected(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    struct authtoken_keys *k = make_keys(&c);
    char *token = NULL;
    assert_int_equal(authtoken_issue(k, "alice", NULL, NOW, &token, NULL), AUTHTOKEN_OK);
    /* Swap the payload for one claiming another user, keeping the signature. */
    char *payload = claims_json("");
    char *forged = forge(hs_header, payload, NULL, 0);
    const char *sig = strrchr(token, '.') + 1;
    size_t spliced_size = strlen(forged) + strlen(sig) + 1;
    char *spliced = malloc(spliced_size);
    assert_non_null(spliced);
    snprintf(spliced, spliced_size, "%s%s", forged, sig);
    assert_int_equal(verify(k, spliced, NOW), AUTHTOKEN_ERR_BAD_SIGNATURE);
    /* A flipped signature character, a cut signature, no signature. */
    char *flipped = strdup(token);
    assert_non_null(flipped);
    char *last = flipped + strlen(flipped) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(verify(k, flipped, NOW), AUTHTOKEN_ERR_BAD_SIGNATURE);
    flipped[strlen(flipped) - 4] = '\0';
    assert_int_equal(verify(k, flipped, NOW), AUTHTOKEN_ERR_BAD_SIGNATURE);
    *(strrchr(flipped, '.') + 1) = '\0';
    assert_int_equal(verify(k, flipped, NOW), AUTHTOKEN_ERR_BAD_SIGNATURE);
    free(flipped);
    free(spliced);
    free(forged);
    free(payload);
    free(token);
    authtoken_keys_free(k);
}

static void test_alg_none_and_other_algs(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    struct authtoken_keys *k = make_keys(&c);
    char *payload = claims_json("");
    static const char *const none_headers[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}",
                                               "{\"alg\":\"NONE\"}", "{\"alg\":\"None\"}"};
    for (size_t i = 0; i < 3; i++) {
        char *t = forge(none_headers[i], payload, NULL, 0);
        assert_int_equal(verify(k, t, NOW), AUTHTOKEN_ERR_ALG_NONE);
        free(t);
        /* ... even with a valid-looking HMAC attached */
        t = forge(none_headers[i], payload, secret, sizeof(secret) - 1);
        assert_int_equal(verify(k, t, NOW), AUTHTOKEN_ERR_ALG_NONE);
        free(t);
    }
    static const char *const other_headers[] = {"{\"alg\":\"HS512\"}", "{\"alg\":\"hs256\"}",
                                                "{\"alg\":\"RS256\"}", "{\"alg\":\"ES256\"}"};
    for (size_t i = 0; i < 4; i++) {
        char *t = forge(other_headers[i], payload, secret, sizeof(secret) - 1);
        assert_int_equal(verify(k, t, NOW), AUTHTOKEN_ERR_ALG_MISMATCH);
        free(t);
    }
    free(payload);
    authtoken_keys_free(k);
}

/* What libjwt 1.10 does on its own: the reason auth_token.c checks the header. */
static void test_libjwt_alone_accepts_none_without_key(void **state)
{
    (void)state;
    char *payload = claims_json("");
    char *t = forge("{\"alg\":\"none\"}", payload, NULL, 0);
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_decode(&jwt, t, NULL, 0), 0);
    assert_int_equal(jwt_get_alg(jwt), JWT_ALG_NONE);
    jwt_free(jwt);
    free(t);
    free(payload);
}

static void test_malformed_tokens(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    struct authtoken_keys *k = make_keys(&c);
    static const char *const malformed[] = {"",     "abc", "a.b",    "a.b.c.d", ".b.c",
                                            "a..c", "...", "a.b.c.", "eyJ.eyJ"};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        enum authtoken_status rc = verify(k, malformed[i], NOW);
        if (rc != AUTHTOKEN_ERR_MALFORMED) {
            fail_msg("'%s': %s", malformed[i], authtoken_status_name(rc));
        }
    }
    struct authtoken_claims claims;
    assert_int_equal(authtoken_verify(k, NULL, 0, NOW, &claims), AUTHTOKEN_ERR_MALFORMED);
    /* An embedded NUL inside the given length. */
    char *good = NULL;
    assert_int_equal(authtoken_issue(k, "u", NULL, NOW, &good, NULL), AUTHTOKEN_OK);
    size_t good_len = strlen(good);
    good[5] = '\0';
    assert_int_equal(authtoken_verify(k, good, good_len, NOW, &claims), AUTHTOKEN_ERR_MALFORMED);
    free(good);
    /* Too long to look at. */
    char *huge = malloc(AUTHTOKEN_MAX_LEN + 2);
    assert_non_null(huge);
    memset(huge, 'a', AUTHTOKEN_MAX_LEN + 1);
    huge[10] = '.';
    huge[20] = '.';
    huge[AUTHTOKEN_MAX_LEN + 1] = '\0';
    assert_int_equal(verify(k, huge, NOW), AUTHTOKEN_ERR_MALFORMED);
    free(huge);

    /* Not base64url: standard alphabet, padding, stray characters, bad length. */
    static const char *const bad_b64[] = {"eyJ+bGci.eyJ.sig", "eyJhbGciOiJIUzI1NiJ9==.eyJ.sig",
                                          "ey*J.eyJ.sig", "eyJhb.eyJ.sig"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(verify(k, bad_b64[i], NOW), AUTHTOKEN_ERR_BAD_BASE64);
    }
    /* Valid header, payload not base64url. */
    char *t = forge(hs_header, "{}", NULL, 0);
    char *dot = strchr(t, '.');
    dot[1] = '%';
    assert_int_equal(verify(k, t, NOW), AUTHTOKEN_ERR_BAD_BASE64);
    free(t);

    /* base64url, but not JSON objects. */
    static const char *const headers[] = {"not json", "[1,2]", "\"HS256\"",
                                          "{\"alg\":\"HS256\",\"alg\":\"none\"}"};
    char *payload = claims_json("");
    for (size_t i = 0; i < 4; i++) {
        t = forge(headers[i], payload, secret, sizeof(secret) - 1);
        assert_int_equal(verify(k, t, NOW), AUTHTOKEN_ERR_BAD_JSON);
        free(t);
    }
    static const char *const payloads[] = {"nope", "[]", "{\"sub\":\"a\",\"sub\":\"b\"}", "{"};
    for (size_t i = 0; i < 4; i++) {
        t = forge(hs_header, payloads[i], secret, sizeof(secret) - 1);
        assert_int_equal(verify(k, t, NOW), AUTHTOKEN_ERR_BAD_JSON);
        free(t);
    }
    /* Header without alg, with another typ, with a critical extension. */
    static const char *const odd_headers[] = {"{\"typ\":\"JWT\"}", "{\"alg\":7}",
                                              "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}",
                                              "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}"};
    for (size_t i = 0; i < 4; i++) {
        t = forge(odd_headers[i], payload, secret, sizeof(secret) - 1);
        assert_int_equal(verify(k, t, NOW), AUTHTOKEN_ERR_MALFORMED);
        free(t);
    }
    free(payload);
    authtoken_keys_free(k);
}

/* Copies `tmpl` into `out`, replacing the first "EXP" with `exp`. */
static void fill_exp(char *out, size_t cap, const char *tmpl, long long exp)
{
    const char *at = strstr(tmpl, "EXP");
    assert_non_null(at);
    snprintf(out, cap, "%.*s%lld%s", (int)(at - tmpl), tmpl, exp, at + 3);
}

static void test_missing_claims(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    struct authtoken_keys *k = make_keys(&c);
    char body[512];
    const long long exp = NOW + 100;
    const char *const templates[] = {
        "{\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\",\"exp\":EXP}",
        "{\"sub\":\"\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\",\"exp\":EXP}",
        "{\"sub\":7,\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\",\"exp\":EXP}",
        "{\"sub\":\"u\",\"aud\":\"collab-api\",\"jti\":\"j\",\"exp\":EXP}",
        "{\"sub\":\"u\",\"iss\":\"collab-test\",\"jti\":\"j\",\"exp\":EXP}",
        "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"exp\":EXP}",
        "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\",\"x\":EXP}",
        "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\",\"exp\":"
        "\"EXP\"}",
        "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\",\"exp\":EXP,"
        "\"nbf\":\"soon\"}",
        "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":\"collab-api\",\"jti\":\"j\",\"exp\":EXP,"
        "\"name\":false}",
        "{\"sub\":\"u\",\"iss\":\"collab-test\",\"aud\":7,\"jti\":\"j\",\"exp\":EXP}",
    };
    for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
        fill_exp(body, sizeof(body), templates[i], exp);
        char *t = forge(hs_header, body, secret, sizeof(secret) - 1);
        enum authtoken_status rc = verify(k, t, NOW);
        if (rc != AUTHTOKEN_ERR_MISSING_CLAIM) {
            fail_msg("case %zu: %s", i, authtoken_status_name(rc));
        }
        free(t);
    }
    authtoken_keys_free(k);
}

static void test_refused_configurations(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    assert_int_equal(config_status(&c), AUTHTOKEN_OK);
    c.secret_len = AUTHTOKEN_MIN_SECRET_LEN - 1;
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);
    c = hs_config();
    c.secret = NULL;
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);
    c = hs_config();
    c.issuer = "";
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);
    c = hs_config();
    c.audience = NULL;
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);
    c = hs_config();
    c.leeway_seconds = AUTHTOKEN_MAX_LEEWAY_SECONDS + 1;
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);
    c = hs_config();
    c.ttl_seconds = -1;
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);
    c.ttl_seconds = AUTHTOKEN_MAX_TTL_SECONDS + 1;
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);
    c = hs_config();
    c.public_key_pem = "-----BEGIN PUBLIC KEY-----";
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);
    c = hs_config();
    c.alg = (enum authtoken_alg)9;
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG);

    enum authtoken_alg alg;
    assert_int_equal(authtoken_alg_parse("RS256", &alg), 0);
    assert_int_equal(alg, AUTHTOKEN_RS256);
    assert_int_equal(authtoken_alg_parse("none", &alg), -1);
    assert_int_equal(authtoken_alg_parse("rs256", &alg), -1);
    char *pem = NULL;
    char err[256];
    assert_int_equal(authtoken_read_key_file("/nonexistent/key.pem", &pem, err, sizeof(err)), -1);
    assert_null(pem);
}

static void test_issue_refuses_bad_arguments(void **state)
{
    (void)state;
    struct authtoken_config c = hs_config();
    struct authtoken_keys *k = make_keys(&c);
    char *token = NULL;
    assert_int_equal(authtoken_issue(k, "", NULL, NOW, &token, NULL),
                     AUTHTOKEN_ERR_INVALID_ARGUMENT);
    assert_int_equal(authtoken_issue(k, NULL, NULL, NOW, &token, NULL),
                     AUTHTOKEN_ERR_INVALID_ARGUMENT);
    assert_int_equal(authtoken_issue(k, "\xff", NULL, NOW, &token, NULL),
                     AUTHTOKEN_ERR_INVALID_ARGUMENT);
    assert_int_equal(authtoken_issue(k, "u", "\xc3", NOW, &token, NULL),
                     AUTHTOKEN_ERR_INVALID_ARGUMENT);
    assert_int_equal(authtoken_issue(k, "u", NULL, -1, &token, NULL),
                     AUTHTOKEN_ERR_INVALID_ARGUMENT);
    assert_int_equal(authtoken_issue(k, "u", NULL, INT64_MAX - 10, &token, NULL),
                     AUTHTOKEN_ERR_INVALID_ARGUMENT);
    assert_null(token);
    authtoken_keys_free(k);
}

static struct authtoken_config pem_config(enum authtoken_alg alg, const char *priv, const char *pub)
{
    struct authtoken_config c = {.alg = alg,
                                 .private_key_pem = priv,
                                 .public_key_pem = pub,
                                 .issuer = "collab-test",
                                 .audience = "collab-api",
                                 .ttl_seconds = 0,
                                 .leeway_seconds = -1};
    return c;
}

static void check_key_pair(enum authtoken_alg alg, const char *a, const char *b)
{
    char name[64];
    snprintf(name, sizeof(name), "%s.key", a);
    char *priv = read_key(name);
    snprintf(name, sizeof(name), "%s.pub", a);
    char *pub = read_key(name);
    snprintf(name, sizeof(name), "%s.pub", b);
    char *other_pub = read_key(name);

    struct authtoken_config c = pem_config(alg, priv, pub);
    struct authtoken_keys *issuer = make_keys(&c);
    c = pem_config(alg, NULL, pub);
    struct authtoken_keys *verifier = make_keys(&c);
    c = pem_config(alg, NULL, other_pub);
    struct authtoken_keys *stranger = make_keys(&c);

    char *token = NULL;
    struct authtoken_claims claims;
    assert_int_equal(authtoken_issue(issuer, "user-7", "Grace", NOW, &token, &claims),
                     AUTHTOKEN_OK);
    assert_int_equal(claims.exp, NOW + AUTHTOKEN_DEFAULT_TTL_SECONDS); /* defaults */
    authtoken_claims_clear(&claims);
    assert_int_equal(verify(verifier, token, NOW), AUTHTOKEN_OK);
    assert_int_equal(verify(verifier, token,
                            NOW + AUTHTOKEN_DEFAULT_TTL_SECONDS + AUTHTOKEN_DEFAULT_LEEWAY_SECONDS),
                     AUTHTOKEN_ERR_EXPIRED);
    assert_int_equal(verify(stranger, token, NOW), AUTHTOKEN_ERR_BAD_SIGNATURE);
    char *again = NULL;
    assert_int_equal(authtoken_issue(verifier, "u", NULL, NOW, &again, NULL),
                     AUTHTOKEN_ERR_NO_PRIVATE_KEY);

    /* Algorithm confusion: HS256 "signed" with the public key as HMAC secret. */
    char *payload = claims_json("");
    char *confused = forge(hs_header, payload, (const uint8_t *)pub, strlen(pub));
    assert_int_equal(verify(verifier, confused, NOW), AUTHTOKEN_ERR_ALG_MISMATCH);
    /* libjwt alone, handed the same key, accepts that forgery. */
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_decode(&jwt, confused, (const unsigned char *)pub, (int)strlen(pub)), 0);
    jwt_free(jwt);
    free(confused);
    char *none = forge("{\"alg\":\"none\"}", payload, NULL, 0);
    assert_int_equal(verify(verifier, none, NOW), AUTHTOKEN_ERR_ALG_NONE);
    free(none);
    free(payload);

    /* Tampered signature. */
    char *last = token + strlen(token) - 3;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(verify(verifier, token, NOW), AUTHTOKEN_ERR_BAD_SIGNATURE);

    free(token);
    authtoken_keys_free(issuer);
    authtoken_keys_free(verifier);
    authtoken_keys_free(stranger);
    free(priv);
    free(pub);
    free(other_pub);
}

static void test_rs256(void **state)
{
    (void)state;
    check_key_pair(AUTHTOKEN_RS256, "rsa_a", "rsa_b");
}

static void test_es256(void **state)
{
    (void)state;
    check_key_pair(AUTHTOKEN_ES256, "ec_a", "ec_b");
}

static void test_refused_key_pairs(void **state)
{
    (void)state;
    char *rsa_a_key = read_key("rsa_a.key");
    char *rsa_b_pub = read_key("rsa_b.pub");
    char *rsa_short_key = read_key("rsa_short.key");
    char *rsa_short_pub = read_key("rsa_short.pub");
    char *ec_a_key = read_key("ec_a.key");
    char *ec_a_pub = read_key("ec_a.pub");
    char *p384_key = read_key("ec_p384.key");
    char *p384_pub = read_key("ec_p384.pub");

    struct authtoken_config c = pem_config(AUTHTOKEN_RS256, rsa_a_key, rsa_b_pub);
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG); /* not a pair */
    c = pem_config(AUTHTOKEN_RS256, rsa_short_key, rsa_short_pub);
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG); /* 1024 bits */
    c = pem_config(AUTHTOKEN_RS256, ec_a_key, ec_a_pub);
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG); /* EC key for RS256 */
    c = pem_config(AUTHTOKEN_ES256, p384_key, p384_pub);
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG); /* P-384 for ES256 */
    c = pem_config(AUTHTOKEN_ES256, ec_a_key, NULL);
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG); /* no public key */
    c = pem_config(AUTHTOKEN_ES256, ec_a_key, ec_a_key);
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG); /* private as public */
    c = pem_config(AUTHTOKEN_ES256, ec_a_key, ec_a_pub);
    c.secret = secret;
    c.secret_len = sizeof(secret) - 1;
    assert_int_equal(config_status(&c), AUTHTOKEN_ERR_BAD_CONFIG); /* secret with PEM alg */

    /* An ES256 token presented to an RS256 verifier. */
    c = pem_config(AUTHTOKEN_ES256, ec_a_key, ec_a_pub);
    struct authtoken_keys *es = make_keys(&c);
    char *rsa_a_pub = read_key("rsa_a.pub");
    c = pem_config(AUTHTOKEN_RS256, NULL, rsa_a_pub);
    struct authtoken_keys *rs = make_keys(&c);
    char *token = NULL;
    assert_int_equal(authtoken_issue(es, "u", NULL, NOW, &token, NULL), AUTHTOKEN_OK);
    assert_int_equal(verify(rs, token, NOW), AUTHTOKEN_ERR_ALG_MISMATCH);
    free(token);
    authtoken_keys_free(es);
    authtoken_keys_free(rs);

    free(rsa_a_pub);
    free(rsa_a_key);
    free(rsa_b_pub);
    free(rsa_short_key);
    free(rsa_short_pub);
    free(ec_a_key);
    free(ec_a_pub);
    free(p384_key);
    free(p384_pub);
}

static void test_status_names_are_distinct(void **state)
{
    (void)state;
    for (int a = AUTHTOKEN_OK; a <= AUTHTOKEN_ERR_INTERNAL; a++) {
        for (int b = a + 1; b <= AUTHTOKEN_ERR_INTERNAL; b++) {
            assert_string_not_equal(authtoken_status_name((enum authtoken_status)a),
                                    authtoken_status_name((enum authtoken_status)b));
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <keys directory>\n", argv[0]);
        return 2;
    }
    keys_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_issue_and_verify),
        cmocka_unit_test(test_time_claims_with_leeway),
        cmocka_unit_test(test_issuer_audience_and_key),
        cmocka_unit_test(test_tampering_is_detected),
        cmocka_unit_test(test_alg_none_and_other_algs),
        cmocka_unit_test(test_libjwt_alone_accepts_none_without_key),
        cmocka_unit_test(test_malformed_tokens),
        cmocka_unit_test(test_missing_claims),
        cmocka_unit_test(test_refused_configurations),
        cmocka_unit_test(test_issue_refuses_bad_arguments),
        cmocka_unit_test(test_rs256),
        cmocka_unit_test(test_es256),
        cmocka_unit_test(test_refused_key_pairs),
        cmocka_unit_test(test_status_names_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
