/*
 * test_npy.c: the .npz writer's ZIP64 archives. A member of 4 GiB is too big for a test, so the test
 * hook dm_npz_set_zip64_threshold lowers the size from which ZIP64 is written; the archive is then
 * checked field by field, by `unzip -t` and Python's zipfile (CRC-32 of the member), and by numpy.load
 * where those are installed (they are not dependencies of the tests: their checks are skipped, and
 * said so, without them). The classic archive is checked in test_saliency.c (npy suite).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "npy.h"
#include "testutil.h"

static uint32_t le16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* The first Python that has numpy: python3 on PATH (pyenv's, say), then the system's (Debian's
 * python3-numpy); NULL without one. */
static const char *numpy_python(void) {
    static const char *const cand[] = {"python3", "/usr/bin/python3"};
    for (int i = 0; i < 2; i++)
        if (dm_test_system("%s -c 'import numpy' > /dev/null 2>&1", cand[i]) == 0) return cand[i];
    return NULL;
}

static void reset_threshold(void) { dm_npz_set_zip64_threshold(0); }

/* Writes a (rows, cols) array in chunks of 3 rows to dir/name.npz and dir/name.npy; returns the
 * archive's bytes (*zn) and the .npy's (*nn), both malloc'd. */
static void write_pair(const char *dir, const char *name, int64_t rows, int64_t cols, unsigned char **z,
                       size_t *zn, unsigned char **n, size_t *nn) {
    char pz[512], pn[512];
    snprintf(pz, sizeof pz, "%s/%s.npz", dir, name);
    snprintf(pn, sizeof pn, "%s/%s.npy", dir, name);
    int64_t shape[2] = {rows, cols};
    float *v = malloc(sizeof(float) * (size_t)(rows * cols));
    dm_test_fill_uniform(v, (size_t)(rows * cols), -3.0f, 3.0f, 71);
    dm_npy_writer wz, wn;
    cr_assert(dm_npz_open(&wz, pz, "arr_0", 2, shape) == DM_STATUS_OK);
    cr_assert(dm_npy_open(&wn, pn, 2, shape) == DM_STATUS_OK);
    for (int64_t r = 0; r < rows; r += 3) {
        int64_t k = (rows - r < 3 ? rows - r : 3) * cols;
        cr_assert(dm_npy_append(&wz, v + r * cols, k) == DM_STATUS_OK);
        cr_assert(dm_npy_append(&wn, v + r * cols, k) == DM_STATUS_OK);
    }
    cr_assert(dm_npy_commit(&wz) == DM_STATUS_OK);
    cr_assert(dm_npy_commit(&wn) == DM_STATUS_OK);
    free(v);
    const char *paths[2] = {pz, pn};
    unsigned char **bufs[2] = {z, n};
    size_t *lens[2] = {zn, nn};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(paths[i], "rb");
        cr_assert(f);
        fseek(f, 0, SEEK_END);
        *lens[i] = (size_t)ftell(f);
        rewind(f);
        *bufs[i] = malloc(*lens[i]);
        cr_assert(fread(*bufs[i], 1, *lens[i], f) == *lens[i]);
        fclose(f);
    }
}

Test(npz, zip64_archive_field_by_field, .fini = reset_threshold) {
    char *dir = dm_test_tmpdir();
    dm_npz_set_zip64_threshold(1);    /* every archive is ZIP64 */
    unsigned char *z, *n;
    size_t zn, nn;
    write_pair(dir, "a", 37, 11, &z, &zn, &n, &nn);

    /* local header: version 4.5, sizes 0xFFFFFFFF, the ZIP64 extra field with both 64-bit sizes */
    cr_assert(le32(z) == 0x04034b50 && le16(z + 4) == 45 && le16(z + 8) == 0, "local header, 4.5, STORED");
    cr_assert(le32(z + 18) == 0xFFFFFFFFu && le32(z + 22) == 0xFFFFFFFFu, "sizes deferred to ZIP64");
    size_t nl = le16(z + 26), xl = le16(z + 28), off = 30 + nl + xl;
    cr_assert(nl == 9 && memcmp(z + 30, "arr_0.npy", 9) == 0 && xl == 20);
    const unsigned char *x = z + 30 + nl;
    cr_assert(le16(x) == 1 && le16(x + 2) == 16 && le64(x + 4) == nn && le64(x + 12) == nn);
    cr_assert(memcmp(z + off, n, nn) == 0, "the member is the .npy, byte for byte");
    uint32_t crc = (uint32_t)crc32(0, n, (uInt)nn);
    cr_assert(le32(z + 14) == crc, "CRC-32 of the member patched into the local header");

    /* central directory entry: the same, with the offset 0 kept in 32 bits */
    const unsigned char *cd = z + off + nn;
    size_t cdl = 46 + 9 + 20;
    cr_assert(le32(cd) == 0x02014b50 && le16(cd + 6) == 45 && le32(cd + 16) == crc);
    cr_assert(le32(cd + 20) == 0xFFFFFFFFu && le32(cd + 24) == 0xFFFFFFFFu && le32(cd + 42) == 0);
    cr_assert(le16(cd + 28) == 9 && le16(cd + 30) == 20 && memcmp(cd + 46, "arr_0.npy", 9) == 0);
    x = cd + 46 + 9;
    cr_assert(le16(x) == 1 && le16(x + 2) == 16 && le64(x + 4) == nn && le64(x + 12) == nn);

    /* ZIP64 end record, its locator, the classic end record pointing to them; nothing after */
    const unsigned char *e64 = cd + cdl, *loc = e64 + 56, *end = loc + 20;
    cr_assert((size_t)(end + 22 - z) == zn, "the archive ends with the end record");
    cr_assert(le32(e64) == 0x06064b50 && le64(e64 + 4) == 44 && le64(e64 + 24) == 1 && le64(e64 + 32) == 1);
    cr_assert(le64(e64 + 40) == cdl && le64(e64 + 48) == off + nn, "directory size and offset");
    cr_assert(le32(loc) == 0x07064b50 && le64(loc + 8) == off + nn + cdl && le32(loc + 16) == 1);
    cr_assert(le32(end) == 0x06054b50 && le16(end + 10) == 1 && le32(end + 12) == cdl &&
              le32(end + 16) == 0xFFFFFFFFu);
    free(z);
    free(n);

    /* readers: Info-ZIP's unzip and Python's zipfile check the CRC-32; numpy reads the array */
    char pz[512], pn[512];
    snprintf(pz, sizeof pz, "%s/a.npz", dir);
    snprintf(pn, sizeof pn, "%s/a.npy", dir);
    if (dm_test_system("command -v unzip > /dev/null") == 0)
        cr_expect(dm_test_system("unzip -tq '%s' > /dev/null", pz) == 0, "unzip -t");
    else
        cr_log_warn("unzip is not installed: its check is skipped");
    if (dm_test_system("command -v python3 > /dev/null") == 0) {
        cr_expect(dm_test_system("python3 -c \"import zipfile, sys; z = zipfile.ZipFile('%s'); "
                                 "i = z.infolist(); sys.exit(z.testzip() is not None or len(i) != 1 "
                                 "or i[0].file_size != %zu)\"", pz, nn) == 0,
                  "Python's zipfile: one member of the right size, CRC-32 right");
        const char *py = numpy_python();
        if (py)
            cr_expect(dm_test_system("%s -c \"import numpy as np; a = np.load('%s')['arr_0']; "
                                     "b = np.load('%s'); assert a.shape == (37, 11) and "
                                     "a.dtype == np.float32 and (a == b).all()\"", py, pz, pn) == 0,
                      "numpy.load of the ZIP64 .npz");
        else
            cr_log_warn("numpy is not installed (Debian: python3-numpy): numpy.load is not checked");
    } else {
        cr_log_warn("python3 is not installed: zipfile and numpy checks are skipped");
    }
    dm_test_rmdir(dir);
    free(dir);
}

Test(npz, zip64_exactly_from_the_threshold, .fini = reset_threshold) {
    /* the archive's directory offset (30 + name + member) decides: at the threshold ZIP64, one byte
     * below it the classic archive, which is the default's output byte for byte */
    char *dir = dm_test_tmpdir();
    unsigned char *z0, *n0, *z1, *n1, *z2, *n2;
    size_t zn0, nn0, zn1, nn1, zn2, nn2;
    write_pair(dir, "default", 5, 3, &z0, &zn0, &n0, &nn0);
    uint64_t cd_off = 30 + 9 + nn0;
    dm_npz_set_zip64_threshold(cd_off + 1);
    write_pair(dir, "below", 5, 3, &z1, &zn1, &n1, &nn1);
    dm_npz_set_zip64_threshold(cd_off);
    write_pair(dir, "at", 5, 3, &z2, &zn2, &n2, &nn2);
    cr_assert(le16(z0 + 4) == 20 && le32(z0 + 18) == nn0 && zn0 == cd_off + 46 + 9 + 22, "classic");
    cr_assert(zn1 == zn0 && memcmp(z1, z0, zn0) == 0, "below the threshold: the classic bytes");
    cr_assert(le16(z2 + 4) == 45 && zn2 == zn0 + 20 + 20 + 56 + 20, "at the threshold: ZIP64");
    free(z0), free(n0), free(z1), free(n1), free(z2), free(n2);
    dm_test_rmdir(dir);
    free(dir);
}
