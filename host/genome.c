/*
 * genome.c: a genome as an indexed FASTA, read through htslib's faidx (genome.h).
 *
 * htslib reports its own problems by printing to stderr; the library must not print, so every htslib
 * call here runs with htslib's log level turned off (and put back after). When htslib cannot load or
 * build the index, the reason is found here instead and becomes one dm_error line naming the file: a
 * file that cannot be opened, a gzip (not bgzip) file, an index that cannot be written, or the first
 * FASTA line that breaks faidx's rule (every line of a sequence as long as the first, but the last).
 *
 * An index older than its FASTA is rebuilt (a stale .fai would read the wrong bases silently) when
 * its folder takes files; in a read-only folder (a shared genome) it is used as it is, as samtools does.
 */
#define _GNU_SOURCE   /* qsort_r */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <htslib/faidx.h>
#include <htslib/hts_log.h>

#include "dm_internal.h"
#include "genome.h"

struct dm_genome {
    faidx_t *fai;
    int n;
    const char **name;     /* (n) htslib's own strings */
    int64_t *len;          /* (n) */
    int *by_name;          /* (n) chromosome indices sorted by name, for dm_genome_chrom_index */
    char path[4096];
};

/* ---- htslib's log, silenced around each call -------------------------------------------------- */

static enum htsLogLevel dm_hts_quiet(void) {
    enum htsLogLevel old = hts_get_log_level();
    hts_set_log_level(HTS_LOG_OFF);
    return old;
}

static void dm_hts_restore(enum htsLogLevel old) { hts_set_log_level(old); }

/* ---- why an index could not be loaded or built ------------------------------------------------ */

static bool dm_file_newer(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return false;
    return sa.st_mtim.tv_sec > sb.st_mtim.tv_sec ||
           (sa.st_mtim.tv_sec == sb.st_mtim.tv_sec && sa.st_mtim.tv_nsec > sb.st_mtim.tv_nsec);
}

/* The first FASTA line that faidx cannot index, as an error; DM_STATUS_OK when none is found. */
static dm_status dm_fasta_diagnose(const char *path) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) return dm_error(DM_STATUS_IO, "%s: %s", path, strerror(errno));
    char buf[1 << 16];
    int64_t lineno = 0, rec_line = 0;
    int64_t first = -1;            /* length of the record's first sequence line */
    bool short_seen = false;       /* a shorter line was seen: it must have been the last */
    int64_t short_line = 0;
    bool any = false, in_line = false;
    int64_t cur = 0;               /* length of the line being read */
    bool header = false;
    dm_status st = DM_STATUS_OK;
    for (;;) {
        int got = gzread(gz, buf, sizeof buf);
        if (got < 0) {
            int e;
            const char *m = gzerror(gz, &e);
            st = dm_error(DM_STATUS_IO, "%s: read failed: %s", path, e == Z_ERRNO ? strerror(errno) : m);
            break;
        }
        for (int j = 0; j <= got; j++) {
            bool eol = j == got ? (got == 0 && in_line) : buf[j] == '\n';
            if (j == got && !eol) break;
            if (!eol) {
                if (!in_line) {
                    in_line = true;
                    header = buf[j] == '>';
                    cur = 0;
                    lineno++;
                }
                if (buf[j] != '\r') cur++;
                continue;
            }
            if (!in_line) {   /* an empty line */
                lineno++;
                if (any && first >= 0) {
                    short_seen = true;
                    short_line = lineno;
                }
                continue;
            }
            in_line = false;
            if (header) {
                rec_line = lineno;
                first = -1;
                short_seen = false;
                any = true;
                continue;
            }
            if (!any) {
                st = dm_error(DM_STATUS_FORMAT, "%s:%lld: not a FASTA file (no '>' header before the sequence)",
                              path, (long long)lineno);
                goto done;
            }
            if (short_seen) {
                st = dm_error(DM_STATUS_FORMAT,
                              "%s:%lld: line shorter than the first of its sequence (header at line %lld) but "
                              "not its last; faidx needs every line but the last as long as the first "
                              "(rewrap the FASTA, e.g. seqkit seq -w 60)",
                              path, (long long)short_line, (long long)rec_line);
                goto done;
            }
            if (first < 0) first = cur;
            else if (cur > first) {
                st = dm_error(DM_STATUS_FORMAT,
                              "%s:%lld: line of %lld bases, longer than the sequence's first line (%lld); "
                              "faidx needs every line but the last as long as the first",
                              path, (long long)lineno, (long long)cur, (long long)first);
                goto done;
            } else if (cur < first) {
                short_seen = true;
                short_line = lineno;
            }
        }
        if (got == 0) break;
    }
    if (st == DM_STATUS_OK && !any) st = dm_error(DM_STATUS_FORMAT, "%s: not a FASTA file (no '>' header)", path);
done:
    gzclose(gz);
    return st;
}

/* Whether the folder of `file` takes new files (errno says why not). */
static bool dm_folder_writable(const char *file) {
    char dir[4096];
    const char *slash = strrchr(file, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - file > 0 ? slash - file : 1), file);
    return access(dir, W_OK | X_OK) == 0;
}

/* The error of a FASTA htslib could not index (fai_path: the index it would read or write). */
static dm_status dm_index_error(const char *path, const char *fai_path, bool building) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: %s", path, strerror(errno));
    dm_status st = dm_input_check(path, fd, NULL);
    unsigned char magic[18] = {0};
    ssize_t got = st == DM_STATUS_OK ? read(fd, magic, sizeof magic) : 0;
    close(fd);
    if (st != DM_STATUS_OK) return st;
    if (got <= 0) return dm_error(DM_STATUS_FORMAT, "%s: the file is empty (not a FASTA file)", path);
    if (got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        /* BGZF: gzip with the FEXTRA flag and a "BC" subfield. */
        bool bgzf = got >= 14 && (magic[3] & 4) && magic[12] == 'B' && magic[13] == 'C';
        if (!bgzf)
            return dm_error(DM_STATUS_FORMAT,
                            "%s: no index and cannot build one: compressed with gzip, not bgzip (an indexed "
                            "genome must be plain or bgzip-compressed: zcat %s | bgzip > GENOME.fa.gz)",
                            path, path);
    }
    if (building && !dm_folder_writable(fai_path))
        return dm_error(DM_STATUS_IO, "%s: no index and cannot build one: cannot write %s: %s", path, fai_path,
                        strerror(errno));
    st = dm_fasta_diagnose(path);
    if (st != DM_STATUS_OK) {
        if (building) {
            /* Prefix the reason with what failed, keeping the file:line start of the message. */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", dm_last_error());
            return dm_error(st, "%s (no index and cannot build one)", msg);
        }
        return st;
    }
    return dm_error(DM_STATUS_FORMAT, "%s: %s", path,
                    building ? "no index and cannot build one (htslib's faidx refused the file)"
                             : "cannot read its index (remove the .fai/.gzi to rebuild them)");
}

/* ---- open, close, the chromosome table -------------------------------------------------------- */

static int dm_cmp_name(const void *a, const void *b, void *ctx) {
    const dm_genome *g = ctx;
    return strcmp(g->name[*(const int *)a], g->name[*(const int *)b]);
}

void dm_genome_close(dm_genome *g) {
    if (!g) return;
    if (g->fai) fai_destroy(g->fai);
    free(g->name);
    free(g->len);
    free(g->by_name);
    free(g);
}

dm_status dm_genome_open(dm_genome **out, const char *path) {
    DM_CHECK_ARG(out && path, "dm_genome_open: NULL argument");
    *out = NULL;
    if (strlen(path) + 5 > sizeof ((dm_genome *)0)->path)
        return dm_error(DM_STATUS_ARG, "%.200s...: path too long", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: %s", path, strerror(errno));
    dm_status st = dm_input_check(path, fd, NULL);
    close(fd);
    DM_TRY(st);

    dm_genome *g = calloc(1, sizeof *g);
    if (!g) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    snprintf(g->path, sizeof g->path, "%s", path);
    char fai_path[4200];
    snprintf(fai_path, sizeof fai_path, "%s.fai", path);

    bool have = access(fai_path, F_OK) == 0;
    bool stale = have && dm_file_newer(path, fai_path);
    /* A stale index in a folder that takes no files (a shared, read-only genome folder) is used as it
     * is, as samtools would. */
    bool building = !have || (stale && dm_folder_writable(fai_path));
    enum htsLogLevel old = dm_hts_quiet();
    if (building) {
        /* fai_build3 also writes the .gzi of a bgzip file. */
        if (fai_build3(path, NULL, NULL) != 0) {
            dm_hts_restore(old);
            st = dm_index_error(path, fai_path, true);
            dm_genome_close(g);
            return st;
        }
    }
    g->fai = fai_load3(path, NULL, NULL, FAI_CREATE);
    if (!g->fai && !building) {
        /* A damaged index, or a bgzip file whose .gzi is missing: build both again. */
        building = true;
        if (fai_build3(path, NULL, NULL) == 0) g->fai = fai_load3(path, NULL, NULL, 0);
    }
    dm_hts_restore(old);
    if (!g->fai) {
        st = dm_index_error(path, fai_path, building);
        dm_genome_close(g);
        return st;
    }

    g->n = faidx_nseq(g->fai);
    if (g->n <= 0) {
        dm_genome_close(g);
        return dm_error(DM_STATUS_FORMAT, "%s: no sequences in the genome", path);
    }
    g->name = malloc((size_t)g->n * sizeof *g->name);
    g->len = malloc((size_t)g->n * sizeof *g->len);
    g->by_name = malloc((size_t)g->n * sizeof *g->by_name);
    if (!g->name || !g->len || !g->by_name) {
        dm_genome_close(g);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < g->n; i++) {
        g->name[i] = faidx_iseq(g->fai, i);
        /* faidx_seq_len is an int in htslib 1.16 (faidx_seq_len64 came later): 2^31 − 1 bp at most. */
        g->len[i] = faidx_seq_len(g->fai, g->name[i]);
        g->by_name[i] = i;
        if (g->len[i] < 0) {
            st = dm_error(DM_STATUS_FORMAT, "%s: sequence '%s' has no length in the index", path, g->name[i]);
            dm_genome_close(g);
            return st;
        }
    }
    qsort_r(g->by_name, (size_t)g->n, sizeof *g->by_name, dm_cmp_name, g);
    *out = g;
    return DM_STATUS_OK;
}

int dm_genome_n_chroms(const dm_genome *g) { return g ? g->n : 0; }

const char *dm_genome_chrom_name(const dm_genome *g, int chrom) {
    return g && chrom >= 0 && chrom < g->n ? g->name[chrom] : NULL;
}

int64_t dm_genome_chrom_len(const dm_genome *g, int chrom) {
    return g && chrom >= 0 && chrom < g->n ? g->len[chrom] : -1;
}

int dm_genome_chrom_index(const dm_genome *g, const char *name) {
    if (!g || !name) return -1;
    int lo = 0, hi = g->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, g->name[g->by_name[mid]]);
        if (c == 0) return g->by_name[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

const char *dm_genome_path(const dm_genome *g) { return g ? g->path : NULL; }

/* ---- fetching bases --------------------------------------------------------------------------- */

/* Byte → code + 1 (0: not a base): ACGT either case, N and the IUPAC ambiguity codes → N. */
static const uint8_t dm_genome_code1[256] = {
    ['A'] = 1, ['C'] = 2, ['G'] = 3, ['T'] = 4, ['a'] = 1, ['c'] = 2, ['g'] = 3, ['t'] = 4,
    ['N'] = 5, ['R'] = 5, ['Y'] = 5, ['S'] = 5, ['W'] = 5, ['K'] = 5, ['M'] = 5, ['B'] = 5, ['D'] = 5,
    ['H'] = 5, ['V'] = 5, ['n'] = 5, ['r'] = 5, ['y'] = 5, ['s'] = 5, ['w'] = 5, ['k'] = 5, ['m'] = 5,
    ['b'] = 5, ['d'] = 5, ['h'] = 5, ['v'] = 5,
};

dm_status dm_genome_fetch(dm_genome *g, int chrom, int64_t start, int64_t end, char strand, uint8_t *codes) {
    DM_CHECK_ARG(g && codes, "dm_genome_fetch: NULL argument");
    DM_CHECK_ARG(chrom >= 0 && chrom < g->n, "dm_genome_fetch: %s: no chromosome %d", g->path, chrom);
    DM_CHECK_ARG(start >= 0 && start < end && end <= g->len[chrom],
                 "dm_genome_fetch: %s: %s:%lld-%lld is not inside %s (length %lld)", g->path, g->name[chrom],
                 (long long)start, (long long)end, g->name[chrom], (long long)g->len[chrom]);
    DM_CHECK_ARG(strand == '+' || strand == '-' || strand == '.', "dm_genome_fetch: strand '%c'", strand);
    enum htsLogLevel old = dm_hts_quiet();
    hts_pos_t got = 0;
    char *s = faidx_fetch_seq64(g->fai, g->name[chrom], start, end - 1, &got);
    dm_hts_restore(old);
    int64_t n = end - start;
    if (!s || got != n) {
        free(s);
        if (got == -2) return dm_error(DM_STATUS_ARG, "%s: no sequence %s", g->path, g->name[chrom]);
        return dm_error(DM_STATUS_IO,
                        "%s: %s:%lld-%lld: read %lld of %lld bases (the file is truncated or changed since "
                        "its index was built: remove %s.fai to rebuild it)",
                        g->path, g->name[chrom], (long long)start, (long long)end, (long long)(got > 0 ? got : 0),
                        (long long)n, g->path);
    }
    for (int64_t i = 0; i < n; i++) {
        uint8_t c1 = dm_genome_code1[(uint8_t)s[i]];
        if (!c1) {
            uint8_t c = (uint8_t)s[i];
            char rep[8];
            if (c >= 0x20 && c < 0x7F) snprintf(rep, sizeof rep, "%c", c);
            else snprintf(rep, sizeof rep, "\\x%02X", c);
            free(s);
            return dm_error(DM_STATUS_FORMAT, "%s: %s:%lld: invalid base '%s'", g->path, g->name[chrom],
                            (long long)(start + i + 1), rep);
        }
        codes[i] = (uint8_t)(c1 - 1);
    }
    free(s);
    if (strand == '-') {
        /* Reverse complement: A↔T (0↔3), C↔G (1↔2), N stays N. */
        for (int64_t i = 0, j = n - 1; i <= j; i++, j--) {
            uint8_t a = codes[i], b = codes[j];
            codes[i] = b < DM_BASE_N ? (uint8_t)(DM_BASE_T - b) : b;
            codes[j] = a < DM_BASE_N ? (uint8_t)(DM_BASE_T - a) : a;
        }
    }
    return DM_STATUS_OK;
}
