/* vocab_embed.c - the BPE merges file (vocab/bpe_simple_vocab_16e6.txt.gz,
 * MIT licence, see vocab/LICENSE-open_clip) compiled into the library, so
 * tokenizing needs no file at run time (interface contract §2.4). The symbols
 * are hidden: only vc_* API functions leave the shared object. */
#include "tokenizer.h"

#ifndef VC_SOURCE_DIR
#error "VC_SOURCE_DIR (the repository root) must be defined by the build"
#endif

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".globl vc_text_vocab_gz\n"
        ".hidden vc_text_vocab_gz\n"
        ".type vc_text_vocab_gz, @object\n"
        "vc_text_vocab_gz:\n"
        ".incbin \"" VC_SOURCE_DIR "/vocab/bpe_simple_vocab_16e6.txt.gz\"\n"
        ".size vc_text_vocab_gz, . - vc_text_vocab_gz\n"
        ".globl vc_text_vocab_gz_end\n"
        ".hidden vc_text_vocab_gz_end\n"
        "vc_text_vocab_gz_end:\n"
        ".byte 0\n"
        ".previous\n");
