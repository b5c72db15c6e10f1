// Command tlogtiles is electlog's interoperability check against a third-party C2SP
// tlog-tiles implementation: the Go project's golang.org/x/mod/sumdb/tlog (the Merkle tree
// and tiles behind the Go checksum database) and golang.org/x/mod/sumdb/note (signed notes),
// as packaged by Debian (golang-golang-x-mod-dev). Built and run by tests/test_tiles_interop.py.
//
//	tlogtiles read URL VKEY
//	    Fetch URL/checkpoint over HTTP, verify its signature with the note verifier key VKEY,
//	    recompute the checkpoint's root from the tiles (tlog.TileHashReader, tlog.TreeHash)
//	    and from every entry of the entry bundles (tlog.StoredHashes, tlog.TreeHash), check
//	    that every served tile is the one tlog.ReadTileData makes, and prove and check the
//	    inclusion of the first and last entry through the tiles. Prints a JSON summary.
//	tlogtiles write DIR ORIGIN < RECORDS
//	    Read records (u16 big-endian length, then the bytes) from standard input, build the
//	    tree with tlog.StoredHashes, write every tile with tlog.NewTiles / tlog.ReadTileData,
//	    the entry bundles and a checkpoint signed with a fresh note key named ORIGIN. Prints a
//	    JSON summary with the root and the verifier key.
//
// sumdb tile paths carry the tile height (tile/8/L/N); tlog-tiles paths do not (tile/L/N):
// tilesPath maps one to the other.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

var client = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("redirects are not followed")
	},
}

// tilesPath is the tlog-tiles path of a sumdb tile: its sumdb path without the height.
func tilesPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", t.H))
}

// entriesPath is the tlog-tiles path of the entry bundle covering tile t's leaves.
func entriesPath(t tlog.Tile) string {
	return "tile/entries/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/0/", t.H))
}

func fetch(base, rel string) ([]byte, error) {
	resp, err := client.Get(strings.TrimSuffix(base, "/") + "/" + rel)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", rel, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<24))
}

type httpTiles struct{ base string }

func (r httpTiles) Height() int { return height }

func (r httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := fetch(r.base, tilesPath(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func splitBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("entry bundle cut short")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, errors.New("entry bundle cut short")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out, nil
}

// checkpoint parses the body of a C2SP checkpoint: origin, size, base64 root.
func checkpoint(text []byte) (string, tlog.Tree, error) {
	lines := strings.SplitN(string(text), "\n", 4)
	if len(lines) < 4 {
		return "", tlog.Tree{}, errors.New("checkpoint: too few lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint size: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return "", tlog.Tree{}, errors.New("checkpoint root is not a base64 SHA-256 hash")
	}
	var h tlog.Hash
	copy(h[:], raw)
	return lines[0], tlog.Tree{N: size, Hash: h}, nil
}

func read(base, vkey string) (map[string]any, error) {
	msg, err := fetch(base, "checkpoint")
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signature: %v", err)
	}
	origin, tree, err := checkpoint([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	hr := tlog.TileHashReader(tree, httpTiles{base})
	root, err := tlog.TreeHash(tree.N, hr)
	if err != nil {
		return nil, fmt.Errorf("tree hash from the tiles: %v", err)
	}
	if root != tree.Hash {
		return nil, errors.New("the tiles' root is not the checkpoint's")
	}
	// Every entry, hashed and built into a tree by tlog itself, must give the checkpoint's
	// root, and every served tile must be the bytes tlog.ReadTileData makes of that tree.
	// (TileHashReader alone is not enough: in x/mod v0.7.0 it authenticates only the tiles
	// after the first len(stx) of its list, so when several of the root's subtrees share a
	// tile, the next full tiles on a leaf's path are returned unchecked.)
	var local hashStore
	checked := 0
	for first := int64(0); first < tree.N; first += 1 << height {
		t := tlog.Tile{H: height, L: 0, N: first >> height, W: 1 << height}
		if tree.N-first < 1<<height {
			t.W = int(tree.N - first)
		}
		data, err := fetch(base, entriesPath(t))
		if err != nil {
			return nil, err
		}
		entries, err := splitBundle(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", entriesPath(t), err)
		}
		if len(entries) != t.W {
			return nil, fmt.Errorf("%s: %d entries, want %d", entriesPath(t), len(entries), t.W)
		}
		for i, e := range entries {
			stored, err := tlog.StoredHashes(first+int64(i), e, local)
			if err != nil {
				return nil, err
			}
			local = append(local, stored...)
			checked++
		}
	}
	fromEntries, err := tlog.TreeHash(tree.N, local)
	if err != nil {
		return nil, err
	}
	if fromEntries != tree.Hash {
		return nil, errors.New("the entries' tree hash is not the checkpoint's root")
	}
	tiles := 0
	for level := 0; tree.N>>(height*level) > 0; level++ {
		width := tree.N >> (height * level)
		for n := int64(0); n<<height < width; n++ {
			t := tlog.Tile{H: height, L: level, N: n, W: 1 << height}
			if width-n<<height < 1<<height {
				t.W = int(width - n<<height)
			}
			want, err := tlog.ReadTileData(t, local)
			if err != nil {
				return nil, err
			}
			got, err := fetch(base, tilesPath(t))
			if err != nil {
				return nil, err
			}
			if string(got) != string(want) {
				return nil, fmt.Errorf("%s is not the tile tlog.ReadTileData makes", tilesPath(t))
			}
			tiles++
		}
	}
	for _, i := range []int64{0, tree.N - 1} {
		proof, err := tlog.ProveRecord(tree.N, i, hr)
		if err != nil {
			return nil, err
		}
		leaf, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil {
			return nil, err
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, leaf[0]); err != nil {
			return nil, err
		}
	}
	return map[string]any{
		"origin":  origin,
		"size":    tree.N,
		"root":    base64.StdEncoding.EncodeToString(root[:]),
		"entries": checked,
		"tiles":   tiles,
		"signer":  n.Sigs[0].Name,
	}, nil
}

type hashStore []tlog.Hash

func (s hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

func put(dir, rel string, data []byte) error {
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func write(dir, origin string, in io.Reader) (map[string]any, error) {
	r := bufio.NewReader(in)
	var records [][]byte
	var hashes hashStore
	for {
		var n uint16
		if err := binary.Read(r, binary.BigEndian, &n); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return nil, err
		}
		stored, err := tlog.StoredHashes(int64(len(records)), rec, hashes)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, stored...)
		records = append(records, rec)
	}
	size := int64(len(records))
	for _, t := range tlog.NewTiles(height, 0, size) {
		data, err := tlog.ReadTileData(t, hashes)
		if err != nil {
			return nil, err
		}
		if err := put(dir, tilesPath(t), data); err != nil {
			return nil, err
		}
		if t.L == 0 {
			var bundle []byte
			for _, rec := range records[t.N<<height : t.N<<height+int64(t.W)] {
				bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(rec)))
				bundle = append(bundle, rec...)
			}
			if err := put(dir, entriesPath(t), bundle); err != nil {
				return nil, err
			}
		}
	}
	root, err := tlog.TreeHash(size, hashes)
	if err != nil {
		return nil, err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, err
	}
	if err := put(dir, "checkpoint", msg); err != nil {
		return nil, err
	}
	return map[string]any{
		"size": size,
		"root": base64.StdEncoding.EncodeToString(root[:]),
		"vkey": vkey,
	}, nil
}

func main() {
	var out map[string]any
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "read":
		out, err = read(os.Args[2], os.Args[3])
	case len(os.Args) == 4 && os.Args[1] == "write":
		out, err = write(os.Args[2], os.Args[3], os.Stdin)
	default:
		err = errors.New("usage: tlogtiles read URL VKEY | tlogtiles write DIR ORIGIN < RECORDS")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlogtiles:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
