/*
 * api.h: what the files of the public API (host/api.c, host/api_run.c) share: the dm_model handle
 * and the steps every computation takes (check the input, build an engine dm_net on the backend).
 */
#ifndef DM_API_H
#define DM_API_H

#include "model.h"

/* The public model: backend-free. params (n_params floats, canonical layout) on the host. */
struct dm_model {
    dm_hparams hp;
    int32_t n_tensors;
    dm_tensor_info tensors[DM_MAX_TENSORS];
    int64_t n_params;
    float *params;
    dm_provenance *prov;     /* never NULL */
    dm_ckpt_extra x;         /* the checkpoint's rc flags and further ensemble members (a change to the
                              * weights makes it a single model again; dm_train also clears rc) */
    char *json;              /* dm_model_provenance's text, built on first use; NULL after a change */
};

/* _ARG unless `in` fits the model: n in [0, 2^31), len = the model's, exactly one of onehot and
 * codes, codes in 0..5, labels in {1, 0, −1} (and present when need_labels). `what` starts the
 * message ("dm_predict"). */
dm_status dm_api_check_input(const dm_model *m, const dm_input *in, const char *what, bool need_labels);

/* An engine model of m on be for batches of up to `batch`, holding m's parameters. */
dm_status dm_api_net(const dm_model *m, dm_backend *be, int32_t batch, dm_net **out);

#endif /* DM_API_H */
