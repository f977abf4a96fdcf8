#!/bin/sh
# fetch_deepbind.sh: downloads the real ENCODE/DeepBind data sets (and the JASPAR 2020 MEME file) that
# deepmotif's data-driven tests and examples use, from the exact public commits they were taken from,
# and checks every file against its SHA-256. Nothing is stored in the repository: see datasets/README.md.
#
# Usage: datasets/fetch_deepbind.sh [--check] [--list] [DEST]
#   DEST     where to put deepbind/ and jaspar/ (default: $DM_DATA_DIR, else
#            ${XDG_CACHE_HOME:-$HOME/.cache}/deepmotif/data). Must lie outside the repository.
#   --check  download nothing; verify the files already in DEST (exit 1 if any is missing or wrong)
#   --list   print "sha256 file URL" for every file and exit
# Needs curl or wget, and sha256sum or shasum. Files already present with the right checksum are kept,
# so the script can be re-run after a network failure. Exit status: 0 all good, 1 otherwise.
set -eu

mode=fetch
dest=""
for arg in "$@"; do
    case "$arg" in
    --check) mode=check ;;
    --list) mode=list ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fetch_deepbind.sh: unknown option $arg" >&2; exit 2 ;;
    *) dest="$arg" ;;
    esac
done
[ -n "$dest" ] || dest="${DM_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/deepmotif/data}"

# The manifest: sha256, destination under DEST, source repository, commit, path in that repository.
# Same files and checksums as ../shared/data/README.md.
manifest() {
    cat <<'MANIFEST'
8a45e540a8aabd5dc1990bbf5e1e7f49bb1e3822082e603cda2fd0e0036a7233 deepbind/ARID3A_HepG2_ARID3A_(NB100-279)_Stanford_AC.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/train/ARID3A_HepG2_ARID3A_(NB100-279)_Stanford_AC.seq.gz
1c4c7f829cbb82426e789fe5133975d3f9bca9a3af4a3af95f1ac899d8d67df9 deepbind/ARID3A_HepG2_ARID3A_(NB100-279)_Stanford_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/test/ARID3A_HepG2_ARID3A_(NB100-279)_Stanford_B.seq.gz
928d75f354dbadbb4f083cb298e85df6fa11f001afacd9d577c0d9c9ce831712 deepbind/ARID3A_K562_ARID3A_(sc-8821)_Stanford_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/ARID3A_K562_ARID3A_(sc-8821)_Stanford_AC.seq.gz
aad6ee8ac42ea66791897a447ad01252f26955d2dd8b5a7865f2c233db807c09 deepbind/ARID3A_K562_ARID3A_(sc-8821)_Stanford_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/ARID3A_K562_ARID3A_(sc-8821)_Stanford_B.seq.gz
d20cb17103810d46e2810f0df58edae0117e23304516726506b1e366beecef5e deepbind/BCLAF1_K562_BCLAF1_(SC-101388)_HudsonAlpha_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/ood/BCLAF1_K562_BCLAF1_(SC-101388)_HudsonAlpha_B.seq.gz
823589ed0c049dea20ed2a20b196d72ac63d76a04693bb2f43313e4a0c55c3da deepbind/CTCFL_K562_CTCFL_(SC-98982)_HudsonAlpha_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/CTCFL_K562_CTCFL_(SC-98982)_HudsonAlpha_AC.seq.gz
707696ec7ca64695e6435859c558940bd86ba8dea836a31cf807386eba383b97 deepbind/CTCFL_K562_CTCFL_(SC-98982)_HudsonAlpha_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/CTCFL_K562_CTCFL_(SC-98982)_HudsonAlpha_B.seq.gz
983114a084d23102f3caab4420119cc477f5a7ee744bfddccde0843f2e8ac53e deepbind/CTCF_NH-A_CTCF_Broad_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/ood/CTCF_NH-A_CTCF_Broad_B.seq.gz
3e44bb851d81e1ea9a9f0c3a600574e4151bff8d510c8fc5d21e87b18715075f deepbind/ELK1_GM12878_ELK1_(1277-1)_Stanford_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/ELK1_GM12878_ELK1_(1277-1)_Stanford_AC.seq.gz
5eec8cc3d433dfcadb5cf1d23919e5ee6896e6479af52f756adcbd461fe6b805 deepbind/ELK1_GM12878_ELK1_(1277-1)_Stanford_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/ELK1_GM12878_ELK1_(1277-1)_Stanford_B.seq.gz
d7444da917c588312ef6231785b8ef508cdbeb6f2550798fb0f101876b47b5bd deepbind/FOXA1_HepG2_FOXA1_(SC-101058)_HudsonAlpha_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/FOXA1_HepG2_FOXA1_(SC-101058)_HudsonAlpha_AC.seq.gz
4634d4a688627cb2009e8598e7ad67687d37d14205daaedb8e96f6705d9e530c deepbind/FOXA1_HepG2_FOXA1_(SC-101058)_HudsonAlpha_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/FOXA1_HepG2_FOXA1_(SC-101058)_HudsonAlpha_B.seq.gz
60c9ca8c5a7ffc64d97b46f54677d055d054f32fbeb0a3ffbb4986910f27f784 deepbind/FOXM1_GM12878_FOXM1_(SC-502)_HudsonAlpha_AC.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/train/FOXM1_GM12878_FOXM1_(SC-502)_HudsonAlpha_AC.seq.gz
cb23f0b99348c3ce3bab2c4b6f75d7f903cee197dd2023fbc26ea82830782291 deepbind/FOXM1_GM12878_FOXM1_(SC-502)_HudsonAlpha_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/test/FOXM1_GM12878_FOXM1_(SC-502)_HudsonAlpha_B.seq.gz
627505bae74920366a5b9b5125e7972b073f611f0bdb258c9d32b9c33bb7529b deepbind/GABPA_GM12878_GABP_HudsonAlpha_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/GABPA_GM12878_GABP_HudsonAlpha_AC.seq.gz
b3f4da33cd690a3d72bb0033e3d4b5e9eec25405669fd521938b3c7e50ffbe15 deepbind/GABPA_GM12878_GABP_HudsonAlpha_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/GABPA_GM12878_GABP_HudsonAlpha_B.seq.gz
a5d27aaedd5e52a6c226ae6690b0c00d4147ffe175b97196b04743007a2ce9c3 deepbind/GATA3_SH-SY5Y_GATA3_(SC-269)_USC_AC.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/train/GATA3_SH-SY5Y_GATA3_(SC-269)_USC_AC.seq.gz
8cc03f18b5a3b1db00dfa6c98d5212fb1612c33dfbe90de43e3aa3699a19c76b deepbind/GATA3_SH-SY5Y_GATA3_(SC-269)_USC_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/test/GATA3_SH-SY5Y_GATA3_(SC-269)_USC_B.seq.gz
a12d118206d0f4f0d41712313ebc95606fffaee5249709c5f48c39dfdd980cde deepbind/MYC_H1-hESC_c-Myc_Stanford_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/MYC_H1-hESC_c-Myc_Stanford_AC.seq.gz
5d5d44a679c2ca2b8efa2e6d183172c1d1d4519b0325c4f56c9ede0ab2bc453d deepbind/MYC_H1-hESC_c-Myc_Stanford_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/MYC_H1-hESC_c-Myc_Stanford_B.seq.gz
e95c54750ea51a44803144822705870a7085e63b436ed509a16700aadc78a2a8 deepbind/POLR2A_A549_Pol2_UT-A_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/ood/POLR2A_A549_Pol2_UT-A_B.seq.gz
11a0d84537fdf9cdab2f7ad4e7e44ad684895e2b34fa5b96b577610aaf72ad63 deepbind/RBBP5_H1-hESC_RBBP5_(A300-109A)_Broad_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/ood/RBBP5_H1-hESC_RBBP5_(A300-109A)_Broad_B.seq.gz
b5063130dc151f7529f3f02fe1d89ff7d9175a559f6151a72a7927ee217e1ca9 deepbind/REST_GM12878_NRSF_HudsonAlpha_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/REST_GM12878_NRSF_HudsonAlpha_AC.seq.gz
63aba192660e35154421b66f8129aeb449027bb1af25ff7903069fee861d679d deepbind/REST_GM12878_NRSF_HudsonAlpha_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/REST_GM12878_NRSF_HudsonAlpha_B.seq.gz
f9fcaa48946ffdcb97e1dc4c199750be67660838e954e5ced8bb3f6f9da026cc deepbind/SAP30_K562_SAP30_(39731)_Broad_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/ood/SAP30_K562_SAP30_(39731)_Broad_B.seq.gz
131c5c30e277ea7e283b374fd78c362ab6fd7f9b1222322df33cf8f048254cbe deepbind/SP1_GM12878_SP1_HudsonAlpha_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/SP1_GM12878_SP1_HudsonAlpha_AC.seq.gz
8ef012ed4a8818ebcb0c46f126b0523825170e6d6f2af9f876b6beb4a7f36594 deepbind/SP1_GM12878_SP1_HudsonAlpha_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/SP1_GM12878_SP1_HudsonAlpha_B.seq.gz
58241d49f7100735a18e1b3a931e8ee951cf56dfe957f6ec589bb7eb6dc91992 deepbind/STAT3_HeLa-S3_STAT3_Stanford_B.seq.gz lab-rasool/TFBS 67a2ecf547a83f8ef6545b1f1604fe69482e4d6f data/ood/STAT3_HeLa-S3_STAT3_Stanford_B.seq.gz
eb8fb406abe10b62075670c6a04b68757e46985fdb8efb386586e6974ef020a0 deepbind/USF1_HepG2_USF-1_HudsonAlpha_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/USF1_HepG2_USF-1_HudsonAlpha_AC.seq.gz
999b5f5d920c73f1e6229f2a6704d8fbf7e8c73e2359686402cbecfe93d39696 deepbind/USF1_HepG2_USF-1_HudsonAlpha_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/USF1_HepG2_USF-1_HudsonAlpha_B.seq.gz
b60c7d2de6a45864c11c17bbe2d1820fb8a004f973f9fd6a4d5287d012500d43 deepbind/ZBTB7A_HepG2_ZBTB7A_(SC-34508)_HudsonAlpha_AC.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/ZBTB7A_HepG2_ZBTB7A_(SC-34508)_HudsonAlpha_AC.seq.gz
998ab846950b28f61a20b28dc6fe86c9d143c847965f4edced9a953b7e7fe9a8 deepbind/ZBTB7A_HepG2_ZBTB7A_(SC-34508)_HudsonAlpha_B.seq.gz jisraeli/DeepBind a9bbf5ffcdf62f2832b0bbdede43a36f4dc19426 data/encode/ZBTB7A_HepG2_ZBTB7A_(SC-34508)_HudsonAlpha_B.seq.gz
6038ad54a5c6faa1c3370213eeae191b2de1c9c0ade7c02baae14ba10307e158 jaspar/JASPAR2020_CORE_vertebrates_non-redundant_pfms_meme.txt wassermanlab/ExplaiNN 4ed332abc610499f4761307eb7ac283115ca7314 data/JASPAR/JASPAR2020_CORE_vertebrates_non-redundant_pfms_meme.txt
MANIFEST
}

# The raw-file URL of a path at a commit; parentheses percent-encoded.
raw_url() {
    printf 'https://raw.githubusercontent.com/%s/%s/%s\n' "$1" "$2" \
        "$(printf '%s' "$3" | sed 's/(/%28/g; s/)/%29/g')"
}

if [ "$mode" = list ]; then
    manifest | while read -r sum file repo commit path; do
        printf '%s  %s  %s\n' "$sum" "$file" "$(raw_url "$repo" "$commit" "$path")"
    done
    exit 0
fi

# Tools: a SHA-256 program and (to fetch) a downloader.
if command -v sha256sum >/dev/null 2>&1; then sha() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then sha() { shasum -a 256 "$1" | cut -d' ' -f1; }
else echo "fetch_deepbind.sh: need sha256sum or shasum" >&2; exit 1
fi
if [ "$mode" = fetch ]; then
    if command -v curl >/dev/null 2>&1; then get() { curl -fsSL --retry 3 -o "$2" "$1"; }
    elif command -v wget >/dev/null 2>&1; then get() { wget -q --tries=3 -O "$2" "$1"; }
    else echo "fetch_deepbind.sh: need curl or wget" >&2; exit 1
    fi
fi

# Data never goes into the repository (licences differ; the repository stays small). The check runs
# before anything is created.
repo_root=$(cd "$(dirname "$0")/.." && pwd -P)
case "$dest" in
/*) dest_abs="$dest" ;;
*) dest_abs="$PWD/$dest" ;;
esac
if command -v realpath >/dev/null 2>&1; then dest_abs=$(realpath -m "$dest_abs"); fi
case "$dest_abs/" in
"$repo_root"/*)
    echo "fetch_deepbind.sh: $dest_abs is inside the repository $repo_root; choose another DEST" >&2
    exit 1 ;;
esac
if [ "$mode" = fetch ]; then mkdir -p "$dest_abs/deepbind" "$dest_abs/jaspar"; fi

# One pass over the manifest; the loop runs in this shell (input redirected) so counts survive it.
ok=0 bad=0
tmp_list=$(mktemp)
trap 'rm -f "$tmp_list" "$dest_abs"/*/.fetch.*' EXIT
manifest >"$tmp_list"
while read -r sum file repo commit path; do
    target="$dest_abs/$file"
    if [ -f "$target" ] && [ "$(sha "$target")" = "$sum" ]; then
        ok=$((ok + 1))
        continue
    fi
    if [ "$mode" = check ]; then
        if [ -f "$target" ]; then echo "BAD      $file (checksum differs)" >&2
        else echo "MISSING  $file" >&2
        fi
        bad=$((bad + 1))
        continue
    fi
    # Download beside the target, verify, then rename: a failed or wrong download leaves nothing.
    url=$(raw_url "$repo" "$commit" "$path")
    part="$(dirname "$target")/.fetch.$$"
    if ! get "$url" "$part"; then
        echo "FAILED   $file: download failed: $url" >&2
        rm -f "$part"
        bad=$((bad + 1))
    elif [ "$(sha "$part")" != "$sum" ]; then
        echo "FAILED   $file: SHA-256 mismatch (got $(sha "$part")): $url" >&2
        rm -f "$part"
        bad=$((bad + 1))
    else
        mv "$part" "$target"
        echo "fetched  $file"
        ok=$((ok + 1))
    fi
done <"$tmp_list"

echo "$ok files verified, $bad missing or failed, in $dest_abs"
if [ "$bad" -ne 0 ]; then exit 1; fi
echo "use it with: DM_DATA_DIR=$dest_abs (tests), or cmake -DDM_DATA_DIR=$dest_abs"
