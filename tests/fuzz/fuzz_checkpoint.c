/*
 * fuzz_checkpoint.c: libFuzzer target for the model-file loader, dm_checkpoint_load
 * (host/checkpoint.c), with host/model.c's real tensor table and the resume state requested.
 *
 * The input is the file, except that its last 4 bytes are overwritten with the CRC-32 of the bytes
 * before them: the loader rejects a file whose checksum does not match before it parses anything,
 * so without this almost every mutation would stop at the CRC and the parser behind it would never
 * be reached. (The checksum check itself is covered by test_checkpoint.) Inputs shorter than the
 * header plus a CRC are passed unchanged: they exercise the size and magic checks.
 * After a successful load the outputs are checked against the model the hyper-parameters describe.
 */
#include "fuzz_common.h"

#include "dm_internal.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) abort();
    memcpy(buf, data, size);
    if (size >= 20) {
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(size - 4));
        for (int k = 0; k < 4; k++) buf[size - 4 + k] = (uint8_t)(crc >> (8 * k));
    }
    const char *path = dm_fuzz_file(buf, size);
    free(buf);

    dm_hparams hp;
    float *params = NULL;
    int64_t n_params = -1;
    dm_provenance *prov = calloc(1, sizeof *prov);
    dm_resume_state rs;
    if (!prov) abort();
    dm_status st = dm_checkpoint_load(path, dm_net_table, &hp, &params, &n_params, prov, &rs);
    if (st != DM_STATUS_OK) {
        /* outputs stay empty on failure */
        DM_FUZZ_CHECK(params == NULL && n_params == 0);
        DM_FUZZ_CHECK(rs.adam_m == NULL && rs.adam_v == NULL && rs.best_params == NULL);
        DM_FUZZ_CHECK(dm_last_error()[0] != '\0');
        dm_fuzz_verbose(dm_last_error());
    } else {
        dm_tensor_info t[DM_MAX_TENSORS];
        int64_t want = -1;
        DM_FUZZ_CHECK(dm_net_table(&hp, t, &want) >= 0 && want == n_params);
        DM_FUZZ_CHECK(params != NULL && n_params > 0);
        /* provenance strings are terminated, counts within their arrays */
#define DM_FUZZ_STR_OK(s) DM_FUZZ_CHECK(strnlen((s), sizeof(s)) < sizeof(s))
        DM_FUZZ_STR_OK(prov->version);
        DM_FUZZ_STR_OK(prov->protocol);
        DM_FUZZ_STR_OK(prov->device);
        DM_FUZZ_STR_OK(prov->created_utc);
        DM_FUZZ_STR_OK(prov->label);
        DM_FUZZ_CHECK(prov->n_inputs >= 0 && prov->n_inputs <= DM_MAX_INPUTS);
        DM_FUZZ_CHECK(prov->n_epochs >= 0 && prov->n_epochs <= DM_MAX_EPOCHS);
        for (int i = 0; i < prov->n_inputs; i++) {
            DM_FUZZ_STR_OK(prov->inputs[i].role);
            DM_FUZZ_STR_OK(prov->inputs[i].path);
            DM_FUZZ_STR_OK(prov->inputs[i].sha256);
        }
        volatile float sink = 0;   /* every parameter is readable (ASan) */
        for (int64_t i = 0; i < n_params; i++) sink += params[i];
        (void)sink;
        if (rs.adam_m) {
            DM_FUZZ_CHECK(rs.adam_v && rs.best_params);
            sink = rs.adam_m[n_params - 1] + rs.adam_v[n_params - 1] + rs.best_params[n_params - 1];
        }
    }
    free(params);
    dm_resume_state_free(&rs);
    free(prov);
    return 0;
}
