#!/usr/bin/env bash
# Install the Debian packages whose English text makes the benchmark corpus, then build it.
#
# benchmarks/corpus.py reads only the files these packages install (dpkg -L), strips
# their markup, and interleaves them into benchmarks/corpus/text-SIZE.txt (gitignored).
# All together they hold about 255 MB of plain text. Needs root (apt-get).
#
#   bash benchmarks/setup_corpus.sh [SIZE ...]      # default: 20MB 200MB
set -euo pipefail

packages=(
    dict-gcide dict-wn dict-foldoc dict-jargon dict-devil   # dictionaries, Webster 1913
    fortunes fortunes-min                                   # quotations
    linux-doc-6.1 python3.11-doc perl-doc postgresql-doc-15 sqlite3-doc git-doc
    vim-doc octave-doc maxima-doc abs-guide openjdk-17-doc  # manuals
    manpages manpages-dev autoconf-doc groff gnu-standards  # man and info pages
)
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${packages[@]}"
cd "$(dirname "$0")/.."
if (($#)); then sizes=("$@"); else sizes=(20MB 200MB); fi
python3 -m benchmarks.corpus "${sizes[@]}"
