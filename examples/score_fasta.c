/*
 * score_fasta.c: the smallest program on deepmotif's C API. It loads a model, reads a FASTA file
 * (or any format deepmotif reads) and prints every sequence's id and P(bound), tab-separated.
 *
 *   cc score_fasta.c $(pkg-config --cflags --libs deepmotif) -o score_fasta
 *   ./score_fasta model.dm sequences.fa [auto|cpu|cuda:N]
 */
#include <deepmotif.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what) {
    fprintf(stderr, "score_fasta: %s: %s\n", what, dm_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: score_fasta MODEL SEQUENCES [auto|cpu|cuda:N]\n");
        return 2;
    }
    dm_model *model = NULL;
    if (dm_model_load(argv[1], &model) != DM_STATUS_OK) return fail("loading the model");
    dm_hparams hp;
    dm_model_hparams(model, &hp);

    dm_dataset data = {0};   /* padded or truncated to the model's length */
    if (dm_dataset_read(&data, argv[2], DM_FORMAT_AUTO, hp.len) != DM_STATUS_OK) return fail("reading");

    dm_backend *backend = NULL;
    if (dm_backend_open(argc == 4 ? argv[3] : "auto", 0, &backend) != DM_STATUS_OK) return fail("backend");

    dm_input input;
    dm_input_from_dataset(&data, &input);
    float *scores = malloc(sizeof(float) * (size_t)(data.n > 0 ? data.n : 1));
    if (!scores) return 1;
    if (dm_predict(model, backend, &input, scores, NULL, NULL) != DM_STATUS_OK) return fail("predicting");
    for (int64_t i = 0; i < data.n; i++) printf("%s\t%.6g\n", data.id[i], scores[i]);

    free(scores);
    dm_backend_free(backend);
    dm_dataset_free(&data);
    dm_model_free(model);
    return 0;
}
