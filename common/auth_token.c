/*
 * JWT issue and verify (see auth_token.h). Verification parses the token
 * itself first - three parts, strict base64url, JSON objects, the header's
 * algorithm against the configured one - so that every failure gets its own
 * reason and libjwt only ever sees tokens of the configured algorithm.
 */
#include "common/auth_token.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTHTOKEN_KEY_FILE_MAX ((size_t)64 * 1024)

struct authtoken_keys {
    enum authtoken_alg alg;
    uint8_t *secret;
    size_t secret_len;
    char *private_pem;
    char *public_pem;
    char *issuer;
    char *audience;
    int64_t ttl;
    int64_t leeway;
};

/* A token split into its parts (pointers into the caller's buffer). */
struct authtoken_parts {
    const char *header;
    size_t header_len;
    const char *payload;
    size_t payload_len;
    const char *signature;
    size_t signature_len;
    size_t signed_len; /* bytes of "header.payload" */
};

static int authtoken_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int authtoken_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen > 0) {
        /* clang 14's analyzer misreads the va_list as uninitialised. */
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
        vsnprintf(err, errlen, fmt, ap);
    }
    va_end(ap);
    return -1;
}

const char *authtoken_alg_name(enum authtoken_alg alg)
{
    switch (alg) {
    case AUTHTOKEN_HS256:
        return "HS256";
    case AUTHTOKEN_RS256:
        return "RS256";
    case AUTHTOKEN_ES256:
        return "ES256";
    }
    return "unknown";
}

int authtoken_alg_parse(const char *name, enum authtoken_alg *alg)
{
    static const enum authtoken_alg all[] = {AUTHTOKEN_HS256, AUTHTOKEN_RS256, AUTHTOKEN_ES256};
    for (size_t i = 0; name != NULL && i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, authtoken_alg_name(all[i])) == 0) {
            *alg = all[i];
            return 0;
        }
    }
    return -1;
}

static jwt_alg_t authtoken_libjwt_alg(enum authtoken_alg alg)
{
    switch (alg) {
    case AUTHTOKEN_HS256:
        return JWT_ALG_HS256;
    case AUTHTOKEN_RS256:
        return JWT_ALG_RS256;
    case AUTHTOKEN_ES256:
        return JWT_ALG_ES256;
    }
    return JWT_ALG_INVAL;
}

void authtoken_keys_free(struct authtoken_keys *keys)
{
    if (keys == NULL) {
        return;
    }
    if (keys->secret != NULL) {
        sodium_memzero(keys->secret, keys->secret_len);
        free(keys->secret);
    }
    if (keys->private_pem != NULL) {
        sodium_memzero(keys->private_pem, strlen(keys->private_pem));
        free(keys->private_pem);
    }
    free(keys->public_pem);
    free(keys->issuer);
    free(keys->audience);
    free(keys);
}

static int authtoken_is_public_pem(const char *pem)
{
    return strstr(pem, "-----BEGIN ") != NULL && strstr(pem, "PUBLIC KEY-----") != NULL;
}

static int authtoken_check_config(const struct authtoken_config *c, char *err, size_t errlen)
{
    if (authtoken_libjwt_alg(c->alg) == JWT_ALG_INVAL) {
        return authtoken_fail(err, errlen, "unknown algorithm %d", (int)c->alg);
    }
    if (c->issuer == NULL || c->issuer[0] == '\0' || c->audience == NULL ||
        c->audience[0] == '\0') {
        return authtoken_fail(err, errlen, "issuer and audience are required");
    }
    if (c->ttl_seconds < 0 || c->ttl_seconds > AUTHTOKEN_MAX_TTL_SECONDS ||
        c->leeway_seconds > AUTHTOKEN_MAX_LEEWAY_SECONDS) {
        return authtoken_fail(err, errlen, "ttl must be 1 .. %lld s and leeway at most %d s",
                              (long long)AUTHTOKEN_MAX_TTL_SECONDS, AUTHTOKEN_MAX_LEEWAY_SECONDS);
    }
    if (c->alg == AUTHTOKEN_HS256) {
        if (c->secret == NULL || c->secret_len < AUTHTOKEN_MIN_SECRET_LEN) {
            return authtoken_fail(err, errlen, "HS256 needs a secret of at least %d bytes",
                                  AUTHTOKEN_MIN_SECRET_LEN);
        }
        if (c->private_key_pem != NULL || c->public_key_pem != NULL) {
            return authtoken_fail(err, errlen, "HS256 takes a secret, not PEM keys");
        }
        return 0;
    }
    if (c->secret != NULL) {
        return authtoken_fail(err, errlen, "%s takes PEM keys, not a secret",
                              authtoken_alg_name(c->alg));
    }
    if (c->public_key_pem == NULL || !authtoken_is_public_pem(c->public_key_pem)) {
        return authtoken_fail(err, errlen, "%s needs a PEM public key", authtoken_alg_name(c->alg));
    }
    return 0;
}

static int authtoken_copy_config(struct authtoken_keys *k, const struct authtoken_config *c)
{
    k->alg = c->alg;
    k->ttl = c->ttl_seconds > 0 ? c->ttl_seconds : AUTHTOKEN_DEFAULT_TTL_SECONDS;
    k->leeway = c->leeway_seconds >= 0 ? c->leeway_seconds : AUTHTOKEN_DEFAULT_LEEWAY_SECONDS;
    k->issuer = strdup(c->issuer);
    k->audience = strdup(c->audience);
    if (k->issuer == NULL || k->audience == NULL) {
        return -1;
    }
    if (c->secret != NULL) {
        k->secret = malloc(c->secret_len);
        if (k->secret == NULL) {
            return -1;
        }
        memcpy(k->secret, c->secret, c->secret_len);
        k->secret_len = c->secret_len;
    }
    if (c->private_key_pem != NULL && (k->private_pem = strdup(c->private_key_pem)) == NULL) {
        return -1;
    }
    if (c->public_key_pem != NULL && (k->public_pem = strdup(c->public_key_pem)) == NULL) {
        return -1;
    }
    return 0;
}

static int authtoken_split(const char *token, size_t len, struct authtoken_parts *p);

/* Signs and verifies a probe token: proves the key pair matches and fits the algorithm. */
static enum authtoken_status authtoken_probe(const struct authtoken_keys *k, char *err,
                                             size_t errlen)
{
    /* Any fixed time will do: the probe is verified at the time it was issued. */
    const int64_t probe_time = 1000000000;
    char *token = NULL;
    struct authtoken_claims claims;
    enum authtoken_status rc = authtoken_issue(k, "probe", NULL, probe_time, &token, NULL);
    if (rc != AUTHTOKEN_OK) {
        (void)authtoken_fail(err, errlen, "cannot sign with the %s private key (%s)",
                             authtoken_alg_name(k->alg), authtoken_status_name(rc));
        return rc == AUTHTOKEN_ERR_NO_MEMORY ? rc : AUTHTOKEN_ERR_BAD_CONFIG;
    }
    rc = authtoken_verify(k, token, strlen(token), probe_time, &claims);
    authtoken_claims_clear(&claims);
    if (rc != AUTHTOKEN_OK) {
        free(token);
        (void)authtoken_fail(err, errlen,
                             "the public key does not verify the private key's tokens (%s)",
                             authtoken_status_name(rc));
        return AUTHTOKEN_ERR_BAD_CONFIG;
    }
    struct authtoken_parts parts;
    int split = authtoken_split(token, strlen(token), &parts);
    size_t sig_bytes = split == 0 ? parts.signature_len * 3 / 4 : 0; /* unpadded base64url */
    free(token);
    if (split != 0) {
        (void)authtoken_fail(err, errlen, "libjwt produced a malformed probe token");
        return AUTHTOKEN_ERR_BAD_CONFIG;
    }
    if (k->alg == AUTHTOKEN_RS256 && sig_bytes * 8 < AUTHTOKEN_MIN_RSA_BITS) {
        (void)authtoken_fail(err, errlen, "RSA key of %zu bits; at least %d required",
                             sig_bytes * 8, AUTHTOKEN_MIN_RSA_BITS);
        return AUTHTOKEN_ERR_BAD_CONFIG;
    }
    if (k->alg == AUTHTOKEN_ES256 && sig_bytes != 64) {
        (void)authtoken_fail(err, errlen, "ES256 needs a P-256 key");
        return AUTHTOKEN_ERR_BAD_CONFIG;
    }
    return AUTHTOKEN_OK;
}

enum authtoken_status authtoken_keys_new(const struct authtoken_config *config,
                                         struct authtoken_keys **out, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }
    if (authtoken_check_config(config, err, errlen) != 0) {
        return AUTHTOKEN_ERR_BAD_CONFIG;
    }
    if (sodium_init() < 0) {
        (void)authtoken_fail(err, errlen, "libsodium failed to initialise");
        return AUTHTOKEN_ERR_NO_MEMORY;
    }
    struct authtoken_keys *k = calloc(1, sizeof(*k));
    if (k == NULL || authtoken_copy_config(k, config) != 0) {
        authtoken_keys_free(k);
        (void)authtoken_fail(err, errlen, "out of memory");
        return AUTHTOKEN_ERR_NO_MEMORY;
    }
    if (k->alg != AUTHTOKEN_HS256 && k->private_pem != NULL) {
        enum authtoken_status rc = authtoken_probe(k, err, errlen);
        if (rc != AUTHTOKEN_OK) {
            authtoken_keys_free(k);
            return rc;
        }
    }
    *out = k;
    return AUTHTOKEN_OK;
}

/* ---- issue ---------------------------------------------------------------- */

static void authtoken_claims_zero(struct authtoken_claims *claims)
{
    memset(claims, 0, sizeof(*claims));
}

void authtoken_claims_clear(struct authtoken_claims *claims)
{
    free(claims->sub);
    free(claims->name);
    free(claims->jti);
    authtoken_claims_zero(claims);
}

static int authtoken_is_utf8(const char *s)
{
    json_t *probe = json_string(s);
    json_decref(probe);
    return probe != NULL;
}

enum authtoken_status authtoken_issue(const struct authtoken_keys *keys, const char *user_id,
                                      const char *name, int64_t now, char **token,
                                      struct authtoken_claims *claims)
{
    if (now < 0 || now > INT64_MAX - keys->ttl || user_id == NULL || user_id[0] == '\0' ||
        !authtoken_is_utf8(user_id) || (name != NULL && !authtoken_is_utf8(name))) {
        return AUTHTOKEN_ERR_INVALID_ARGUMENT;
    }
    const uint8_t *key = keys->secret;
    size_t key_len = keys->secret_len;
    if (keys->alg != AUTHTOKEN_HS256) {
        if (keys->private_pem == NULL) {
            return AUTHTOKEN_ERR_NO_PRIVATE_KEY;
        }
        key = (const uint8_t *)keys->private_pem;
        key_len = strlen(keys->private_pem);
    }
    uint8_t random_id[16];
    char jti[sizeof(random_id) * 2 + 1];
    randombytes_buf(random_id, sizeof(random_id));
    sodium_bin2hex(jti, sizeof(jti), random_id, sizeof(random_id));

    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0) {
        return AUTHTOKEN_ERR_NO_MEMORY;
    }
    int rc = jwt_add_grant(jwt, "sub", user_id);
    rc = rc != 0 ? rc : jwt_add_grant(jwt, "iss", keys->issuer);
    rc = rc != 0 ? rc : jwt_add_grant(jwt, "aud", keys->audience);
    rc = rc != 0 ? rc : jwt_add_grant(jwt, "jti", jti);
    if (rc == 0 && name != NULL && name[0] != '\0') {
        rc = jwt_add_grant(jwt, "name", name);
    }
    rc = rc != 0 ? rc : jwt_add_grant_int(jwt, "iat", (long)now);
    rc = rc != 0 ? rc : jwt_add_grant_int(jwt, "nbf", (long)now);
    rc = rc != 0 ? rc : jwt_add_grant_int(jwt, "exp", (long)(now + keys->ttl));
    rc = rc != 0 ? rc : jwt_set_alg(jwt, authtoken_libjwt_alg(keys->alg), key, (int)key_len);
    char *encoded = rc == 0 ? jwt_encode_str(jwt) : NULL;
    jwt_free(jwt);
    if (encoded == NULL) {
        return rc == ENOMEM || errno == ENOMEM ? AUTHTOKEN_ERR_NO_MEMORY : AUTHTOKEN_ERR_INTERNAL;
    }
    if (claims != NULL) {
        authtoken_claims_zero(claims);
        claims->sub = strdup(user_id);
        claims->name = strdup(name != NULL ? name : "");
        claims->jti = strdup(jti);
        claims->iat = now;
        claims->nbf = now;
        claims->exp = now + keys->ttl;
        if (claims->sub == NULL || claims->name == NULL || claims->jti == NULL) {
            authtoken_claims_clear(claims);
            free(encoded);
            return AUTHTOKEN_ERR_NO_MEMORY;
        }
    }
    *token = encoded;
    return AUTHTOKEN_OK;
}

/* ---- verify --------------------------------------------------------------- */

/* Exactly three parts separated by two dots; the signature may be empty here
 * so that an unsigned `none` token is reported as such. */
static int authtoken_split(const char *token, size_t len, struct authtoken_parts *p)
{
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 =
        dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
        return -1;
    }
    p->header = token;
    p->header_len = (size_t)(dot1 - token);
    p->payload = dot1 + 1;
    p->payload_len = (size_t)(dot2 - p->payload);
    p->signature = dot2 + 1;
    p->signature_len = len - (size_t)(p->signature - token);
    p->signed_len = (size_t)(dot2 - token);
    return p->header_len > 0 && p->payload_len > 0 ? 0 : -1;
}

/* Strict unpadded base64url into a malloc'd buffer (caller frees), NUL-terminated. */
static enum authtoken_status authtoken_b64_decode(const char *b64, size_t len, uint8_t **out,
                                                  size_t *out_len)
{
    uint8_t *bin = malloc(len + 1);
    if (bin == NULL) {
        return AUTHTOKEN_ERR_NO_MEMORY;
    }
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, len + 1, b64, len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != b64 + len) {
        free(bin);
        return AUTHTOKEN_ERR_BAD_BASE64;
    }
    bin[bin_len] = '\0';
    *out = bin;
    *out_len = bin_len;
    return AUTHTOKEN_OK;
}

/* A part decoded and parsed as a JSON object; *object is released by the caller. */
static enum authtoken_status authtoken_json_part(const char *b64, size_t len, json_t **object)
{
    uint8_t *text = NULL;
    size_t text_len = 0;
    enum authtoken_status rc = authtoken_b64_decode(b64, len, &text, &text_len);
    if (rc != AUTHTOKEN_OK) {
        return rc;
    }
    /* Duplicate names are refused: two parsers must never read two meanings. */
    json_t *parsed = json_loadb((const char *)text, text_len, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    if (!json_is_object(parsed)) {
        json_decref(parsed);
        return AUTHTOKEN_ERR_BAD_JSON;
    }
    *object = parsed;
    return AUTHTOKEN_OK;
}

static enum authtoken_status authtoken_check_header(const struct authtoken_keys *keys,
                                                    json_t *header)
{
    const char *alg = json_string_value(json_object_get(header, "alg"));
    if (alg == NULL) {
        return AUTHTOKEN_ERR_MALFORMED;
    }
    if (strcasecmp(alg, "none") == 0) {
        return AUTHTOKEN_ERR_ALG_NONE;
    }
    if (strcmp(alg, authtoken_alg_name(keys->alg)) != 0) {
        return AUTHTOKEN_ERR_ALG_MISMATCH;
    }
    json_t *typ = json_object_get(header, "typ");
    if (typ != NULL && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
        return AUTHTOKEN_ERR_MALFORMED;
    }
    /* No header extension is understood, so none may be critical (RFC 7515 4.1.11). */
    if (json_object_get(header, "crit") != NULL) {
        return AUTHTOKEN_ERR_MALFORMED;
    }
    return AUTHTOKEN_OK;
}

/* HS256 with libsodium: HMAC-SHA256 of "header.payload", compared in constant time. */
static enum authtoken_status authtoken_verify_hmac(const struct authtoken_keys *keys,
                                                   const char *token,
                                                   const struct authtoken_parts *p)
{
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    enum authtoken_status rc = authtoken_b64_decode(p->signature, p->signature_len, &sig, &sig_len);
    if (rc != AUTHTOKEN_OK) {
        return rc == AUTHTOKEN_ERR_BAD_BASE64 ? AUTHTOKEN_ERR_BAD_SIGNATURE : rc;
    }
    crypto_auth_hmacsha256_state state;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    if (crypto_auth_hmacsha256_init(&state, keys->secret, keys->secret_len) != 0 ||
        crypto_auth_hmacsha256_update(&state, (const uint8_t *)token, p->signed_len) != 0 ||
        crypto_auth_hmacsha256_final(&state, mac) != 0) {
        free(sig);
        return AUTHTOKEN_ERR_INTERNAL;
    }
    int same = sig_len == sizeof(mac) && sodium_memcmp(sig, mac, sizeof(mac)) == 0;
    free(sig);
    return same ? AUTHTOKEN_OK : AUTHTOKEN_ERR_BAD_SIGNATURE;
}

/* RS256/ES256 with libjwt, given the public key; the header was checked already. */
static enum authtoken_status authtoken_verify_pem(const struct authtoken_keys *keys,
                                                  const char *token, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return AUTHTOKEN_ERR_NO_MEMORY;
    }
    memcpy(copy, token, len);
    copy[len] = '\0';
    jwt_t *jwt = NULL;
    int rc = jwt_decode(&jwt, copy, (const unsigned char *)keys->public_pem,
                        (int)strlen(keys->public_pem));
    free(copy);
    if (rc != 0) {
        return rc == ENOMEM ? AUTHTOKEN_ERR_NO_MEMORY : AUTHTOKEN_ERR_BAD_SIGNATURE;
    }
    /* Belt and braces: libjwt verified with the algorithm it read itself. */
    jwt_alg_t used = jwt_get_alg(jwt);
    jwt_free(jwt);
    return used == authtoken_libjwt_alg(keys->alg) ? AUTHTOKEN_OK : AUTHTOKEN_ERR_ALG_MISMATCH;
}

static int authtoken_number(json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (!json_is_number(v)) {
        return -1;
    }
    double d = json_number_value(v);
    /* NumericDate may have a fraction; whole seconds are enough here. */
    if (!(d > -9.2e18 && d < 9.2e18)) {
        return -1;
    }
    *out = (int64_t)d;
    return 0;
}

static enum authtoken_status authtoken_check_audience(const struct authtoken_keys *keys,
                                                      json_t *aud)
{
    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), keys->audience) == 0 ? AUTHTOKEN_OK
                                                                   : AUTHTOKEN_ERR_WRONG_AUDIENCE;
    }
    if (!json_is_array(aud)) {
        return AUTHTOKEN_ERR_MISSING_CLAIM;
    }
    for (size_t i = 0; i < json_array_size(aud); i++) {
        const char *one = json_string_value(json_array_get(aud, i));
        if (one != NULL && strcmp(one, keys->audience) == 0) {
            return AUTHTOKEN_OK;
        }
    }
    return AUTHTOKEN_ERR_WRONG_AUDIENCE;
}

static enum authtoken_status authtoken_check_claims(const struct authtoken_keys *keys,
                                                    json_t *payload, int64_t now,
                                                    struct authtoken_claims *out)
{
    const char *sub = json_string_value(json_object_get(payload, "sub"));
    const char *jti = json_string_value(json_object_get(payload, "jti"));
    const char *iss = json_string_value(json_object_get(payload, "iss"));
    json_t *name = json_object_get(payload, "name");
    int64_t exp = 0;
    if (sub == NULL || sub[0] == '\0' || jti == NULL || iss == NULL ||
        authtoken_number(payload, "exp", &exp) != 0 || (name != NULL && !json_is_string(name))) {
        return AUTHTOKEN_ERR_MISSING_CLAIM;
    }
    if (strcmp(iss, keys->issuer) != 0) {
        return AUTHTOKEN_ERR_WRONG_ISSUER;
    }
    enum authtoken_status rc = authtoken_check_audience(keys, json_object_get(payload, "aud"));
    if (rc != AUTHTOKEN_OK) {
        return rc;
    }
    if (now >= exp + keys->leeway) {
        return AUTHTOKEN_ERR_EXPIRED;
    }
    int64_t nbf = 0;
    int64_t iat = 0;
    int has_nbf = json_object_get(payload, "nbf") != NULL;
    int has_iat = json_object_get(payload, "iat") != NULL;
    if ((has_nbf && authtoken_number(payload, "nbf", &nbf) != 0) ||
        (has_iat && authtoken_number(payload, "iat", &iat) != 0)) {
        return AUTHTOKEN_ERR_MISSING_CLAIM;
    }
    if ((has_nbf && now + keys->leeway < nbf) || (has_iat && now + keys->leeway < iat)) {
        return AUTHTOKEN_ERR_NOT_YET_VALID;
    }
    out->sub = strdup(sub);
    out->jti = strdup(jti);
    out->name = strdup(name != NULL ? json_string_value(name) : "");
    out->exp = exp;
    out->nbf = has_nbf ? nbf : 0;
    out->iat = has_iat ? iat : 0;
    if (out->sub == NULL || out->jti == NULL || out->name == NULL) {
        authtoken_claims_clear(out);
        return AUTHTOKEN_ERR_NO_MEMORY;
    }
    return AUTHTOKEN_OK;
}

enum authtoken_status authtoken_verify(const struct authtoken_keys *keys, const char *token,
                                       size_t len, int64_t now, struct authtoken_claims *claims)
{
    authtoken_claims_zero(claims);
    struct authtoken_parts parts;
    if (token == NULL || len == 0 || len > AUTHTOKEN_MAX_LEN || memchr(token, '\0', len) != NULL ||
        authtoken_split(token, len, &parts) != 0) {
        return AUTHTOKEN_ERR_MALFORMED;
    }
    json_t *header = NULL;
    json_t *payload = NULL;
    enum authtoken_status rc = authtoken_json_part(parts.header, parts.header_len, &header);
    if (rc == AUTHTOKEN_OK) {
        rc = authtoken_check_header(keys, header);
    }
    if (rc == AUTHTOKEN_OK) {
        rc = authtoken_json_part(parts.payload, parts.payload_len, &payload);
    }
    if (rc == AUTHTOKEN_OK && parts.signature_len == 0) {
        rc = AUTHTOKEN_ERR_BAD_SIGNATURE;
    }
    if (rc == AUTHTOKEN_OK) {
        rc = keys->alg == AUTHTOKEN_HS256 ? authtoken_verify_hmac(keys, token, &parts)
                                          : authtoken_verify_pem(keys, token, len);
    }
    if (rc == AUTHTOKEN_OK) {
        rc = authtoken_check_claims(keys, payload, now, claims);
    }
    json_decref(header);
    json_decref(payload);
    return rc;
}

int authtoken_read_key_file(const char *path, char **pem, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return authtoken_fail(err, errlen, "%s: %s", path, strerror(errno));
    }
    char *buf = malloc(AUTHTOKEN_KEY_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, AUTHTOKEN_KEY_FILE_MAX + 1, f) : 0;
    int read_error = ferror(f);
    fclose(f);
    if (buf == NULL || read_error || n == 0 || n > AUTHTOKEN_KEY_FILE_MAX) {
        free(buf);
        return authtoken_fail(err, errlen, "%s: %s", path,
                              buf == NULL  ? "out of memory"
                              : read_error ? "read error"
                              : n == 0     ? "empty file"
                                           : "larger than 64 KiB");
    }
    buf[n] = '\0';
    *pem = buf;
    return 0;
}

const char *authtoken_status_name(enum authtoken_status status)
{
    switch (status) {
    case AUTHTOKEN_OK:
        return "ok";
    case AUTHTOKEN_ERR_MALFORMED:
        return "token_malformed";
    case AUTHTOKEN_ERR_BAD_BASE64:
        return "token_bad_base64";
    case AUTHTOKEN_ERR_BAD_JSON:
        return "token_bad_json";
    case AUTHTOKEN_ERR_ALG_NONE:
        return "token_alg_none";
    case AUTHTOKEN_ERR_ALG_MISMATCH:
        return "token_alg_mismatch";
    case AUTHTOKEN_ERR_BAD_SIGNATURE:
        return "token_bad_signature";
    case AUTHTOKEN_ERR_EXPIRED:
        return "token_expired";
    case AUTHTOKEN_ERR_NOT_YET_VALID:
        return "token_not_yet_valid";
    case AUTHTOKEN_ERR_WRONG_ISSUER:
        return "token_wrong_issuer";
    case AUTHTOKEN_ERR_WRONG_AUDIENCE:
        return "token_wrong_audience";
    case AUTHTOKEN_ERR_MISSING_CLAIM:
        return "token_missing_claim";
    case AUTHTOKEN_ERR_BAD_CONFIG:
        return "token_bad_config";
    case AUTHTOKEN_ERR_NO_PRIVATE_KEY:
        return "token_no_private_key";
    case AUTHTOKEN_ERR_INVALID_ARGUMENT:
        return "token_invalid_argument";
    case AUTHTOKEN_ERR_NO_MEMORY:
        return "token_no_memory";
    case AUTHTOKEN_ERR_INTERNAL:
        return "token_internal_error";
    }
    return "token_unknown_status";
}
