/* fuzz_text.c - the prompt path: UTF-8 check, cleaning (ftfy fix_encoding,
 * HTML unescape, whitespace, lower-casing), pre-tokenizer and BPE with its
 * cache, against the built-in merges. */
#include "fuzz_common.h"
#include "text/tokenizer.h"

/* Well-formed UTF-8 as Unicode's table 3-7 lists it, written apart from the
 * library's decoder so that the two check each other. */
static bool well_formed_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        unsigned lo = 0x80, hi = 0xBF;
        size_t tail;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) tail = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            tail = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;   /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            tail = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;   /* nothing above U+10FFFF */
        } else return false;
        if (n - i <= tail) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k <= tail; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
        i += tail + 1;
    }
    return true;
}

static vc_tokenizer *g_tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (vc_tokenizer_create(NULL, NULL, &g_tok) != VC_STATUS_OK) {
        fprintf(stderr, "fuzz_text: cannot build the tokenizer: %s\n", vc_last_error());
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *prompt = malloc(size + 1);
    if (!prompt) return 0;
    memcpy(prompt, data, size);
    prompt[size] = '\0';
    const size_t len = strlen(prompt);   /* an embedded NUL ends the prompt, as in C */

    int64_t t[VC_TEXT_CONTEXT_LENGTH], again[VC_TEXT_CONTEXT_LENGTH];
    vc_status st = vc_tokenizer_encode(NULL, g_tok, prompt, t);
    fuzz_check_failure(st);
    const bool valid = well_formed_utf8((const unsigned char *)prompt, len);
    if (st == VC_STATUS_BAD_TEXT) {
        if (valid) { fprintf(stderr, "well-formed UTF-8 refused: %s\n", vc_last_error()); abort(); }
        if (!strstr(vc_last_error(), "offset")) abort();   /* the message names where */
    } else if (st == VC_STATUS_OK) {
        if (!valid) { fprintf(stderr, "ill-formed UTF-8 accepted\n"); abort(); }
        /* spec §2.5 framing: SOT, ids, EOT, zeros. A literal "<end_of_text>"
         * in the prompt is an EOT id among the others, so only the last EOT is
         * the frame's, and the first where no '<' (nor '&' that unescapes to
         * one) can spell it. */
        if (t[0] != VC_TOKEN_SOT) abort();
        int first_eot = 0, last_eot = 0;
        for (int i = 1; i < VC_TEXT_CONTEXT_LENGTH; i++) {
            if (t[i] < 0 || t[i] >= VC_TEXT_VOCAB_SIZE) abort();
            if (t[i] == VC_TOKEN_EOT) {
                if (!first_eot) first_eot = i;
                last_eot = i;
            }
        }
        if (!last_eot) abort();
        for (int i = last_eot + 1; i < VC_TEXT_CONTEXT_LENGTH; i++)
            if (t[i] != 0) abort();
        if (!memchr(prompt, '<', len) && !memchr(prompt, '&', len) && first_eot != last_eot) abort();
        /* the second run is served from the BPE cache and must not differ */
        if (vc_tokenizer_encode(NULL, g_tok, prompt, again) != VC_STATUS_OK) abort();
        if (memcmp(t, again, sizeof t)) { fprintf(stderr, "BPE cache changed the ids\n"); abort(); }
    } else if (!(st == VC_STATUS_LIMIT_EXCEEDED && len > VC_PROMPT_MAX_BYTES) && st != VC_STATUS_OUT_OF_MEMORY) {
        fprintf(stderr, "unexpected status %d: %s\n", (int)st, vc_last_error());
        abort();
    }
    free(prompt);
    return 0;
}
