/**
 * The list of images an extraction runs over: from an ImageFolder directory, a flat folder
 * (labels -1), or a text list of `relative/path [label]` lines under a root.
 *
 * ImageFolder labels: when every class folder is a WordNet id (`n` and 8 digits, as ImageNet
 * ships), each folder's label is its index in `data/imagenet1k_classes.tsv`, the label space of
 * the toolkit's heads, so a subset of ImageNet keeps the true class indices. Any other folder
 * names are labelled 0..C-1 in sorted order, as torchvision's `ImageFolder` does.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { DataError } from "../errors.ts";
import { readClassTable } from "../io/classes.ts";
import { type ExtractLabels, extractLabels } from "./labels.ts";

/** One image: its path relative to the root (always `/`-separated) and its label (-1: none). */
export interface ImageEntry {
  /** Path relative to the list's root, `/`-separated. */
  path: string;
  /** Class index in the head's label space, -1 when the image has none. */
  label: number;
}

/** An ordered image list. */
export interface ImageList {
  /** Directory the entry paths are relative to. */
  root: string;
  /** The images, in the order of the output rows. */
  entries: ImageEntry[];
  /** Class folder names, sorted (ImageFolder only). */
  classes?: string[];
  /**
   * How ImageFolder labels were assigned: `imagenet1k` (wnid folders -> index in
   * data/imagenet1k_classes.tsv) or `sorted folders` (0..C-1); absent for other layouts.
   */
  labelOrder?: LabelOrder;
  /** `imagefolder`, `flat` or `list`. */
  layout: "imagefolder" | "flat" | "list";
  /** Files skipped because their extension is not an image extension (folders only). */
  ignored: number;
}

/** How ImageFolder labels are assigned (see the module doc). */
export type LabelOrder = "imagenet1k" | "sorted folders";

/** An ImageNet WordNet id folder name. */
const WNID = /^n\d{8}$/;

/**
 * Labels of sorted class folders: ImageNet-1k indices when every name is a wnid (`table`: wnid ->
 * index, read from the class table when omitted), else 0..C-1. A wnid outside the table is a
 * DataError naming the folder (`names`: how messages name the inputs, see {@linkcode ExtractLabels}).
 */
export async function folderLabels(
  root: string,
  classes: readonly string[],
  table?: ReadonlyMap<string, number>,
  names: ExtractLabels = {},
): Promise<{ labels: number[]; order: LabelOrder }> {
  const l = extractLabels(names);
  if (classes.length === 0 || !classes.every((c) => WNID.test(c))) {
    return { labels: classes.map((_, i) => i), order: "sorted folders" };
  }
  const index = table ?? new Map((await readClassTable()).map((c) => [c.wnid, c.index]));
  const labels = classes.map((c) => {
    const i = index.get(c);
    if (i === undefined) {
      throw new DataError(
        `${l.images} ${root}: folder ${c} is a WordNet id but not one of the 1000 ImageNet-1k ` +
          `classes of data/imagenet1k_classes.tsv; ${l.labelsHint}`,
      );
    }
    return i;
  });
  return { labels, order: "imagenet1k" };
}

/** torchvision's IMG_EXTENSIONS, matched case-insensitively. */
export const IMAGE_EXTENSIONS = [
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
] as const;

/** Whether `name` has one of {@linkcode IMAGE_EXTENSIONS}. */
export function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/** Python's `sorted()` order on str: by code point (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory; // stat follows symlinks, like followlinks=True
  } catch {
    return false;
  }
}

/**
 * Files below `dir` (recursive, symlinks followed) in torchvision's order:
 * `for root, _, files in sorted(os.walk(dir)): for f in sorted(files)`, i.e. directories sorted
 * by their whole path string (so `b-x` comes before `b/c`), files sorted within each.
 */
async function walkFiles(dir: string, rel: string): Promise<string[]> {
  const groups: { rel: string; files: string[] }[] = [];
  const seen = new Set<string>();
  const visit = async (d: string, r: string) => {
    const real = await Deno.realPath(d);
    if (seen.has(real)) return; // a symlink loop
    seen.add(real);
    const files: string[] = [];
    const subdirs: string[] = [];
    for await (const e of Deno.readDir(d)) {
      const full = `${d}/${e.name}`;
      if (e.isDirectory || (e.isSymlink && await isDir(full))) subdirs.push(e.name);
      else files.push(e.name);
    }
    groups.push({ rel: r, files: files.sort(compareCodePoints) });
    for (const s of subdirs) await visit(`${d}/${s}`, `${r}/${s}`);
  };
  await visit(dir, rel);
  groups.sort((a, b) => compareCodePoints(a.rel, b.rel));
  return groups.flatMap((g) => g.files.map((f) => `${g.rel}/${f}`));
}

/**
 * Lists an image directory. With sub-directories it is an ImageFolder: each sub-directory is a
 * class (labels from {@linkcode folderLabels}: ImageNet-1k indices for wnid folders, else sorted
 * order 0..C-1) and its image files, recursively, are that class's samples; image files directly
 * in `root` are then an error (ambiguous layout). Without sub-directories it is a flat folder and
 * every label is -1; `unlabeled` gives every image -1 in an ImageFolder too. Files without an
 * image extension are counted in `ignored`, as torchvision ignores them. `labels` names the
 * inputs in messages (default "image folder", "image list").
 */
export async function listImageFolder(
  root: string,
  opts: { unlabeled?: boolean; labels?: ExtractLabels } = {},
): Promise<ImageList> {
  const l = extractLabels(opts.labels);
  if (!await isDir(root)) {
    throw new DataError(`${l.images} ${root} is not a directory; pass the dataset root folder`);
  }
  const top: string[] = [];
  const classes: string[] = [];
  for await (const e of Deno.readDir(root)) {
    const full = `${root}/${e.name}`;
    if (e.isDirectory || (e.isSymlink && await isDir(full))) classes.push(e.name);
    else top.push(e.name);
  }
  classes.sort(compareCodePoints);
  top.sort(compareCodePoints);
  let ignored = 0;
  const entries: ImageEntry[] = [];
  if (classes.length === 0) {
    for (const f of top) {
      if (isImageFile(f)) entries.push({ path: f, label: -1 });
      else ignored++;
    }
    if (entries.length === 0) throw new DataError(`${l.images} ${root} holds no image files`);
    return { root, entries, layout: "flat", ignored };
  }
  const stray = top.filter(isImageFile);
  if (stray.length > 0) {
    throw new DataError(
      `${l.images} ${root} has class folders and also images at its top level (e.g. ` +
        `"${stray[0]}"); move them into a class folder or pass an explicit ${l.list}`,
    );
  }
  ignored += top.length;
  const { labels, order } = opts.unlabeled
    ? { labels: classes.map(() => -1), order: undefined }
    : await folderLabels(root, classes, undefined, opts.labels);
  for (let c = 0; c < classes.length; c++) {
    for (const f of await walkFiles(`${root}/${classes[c]}`, classes[c])) {
      if (isImageFile(f)) entries.push({ path: f, label: labels[c] });
      else ignored++;
    }
  }
  if (entries.length === 0) throw new DataError(`${l.images} ${root} holds no image files`);
  return {
    root,
    entries,
    classes,
    layout: "imagefolder",
    ignored,
    ...(order ? { labelOrder: order } : {}),
  };
}

/** Normalises a relative path; null when it is absolute or leaves the root. */
function normaliseRelative(p: string): string | null {
  if (p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:[\\/]/.test(p)) return null;
  const parts: string[] = [];
  for (const seg of p.replaceAll("\\", "/").split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(seg);
  }
  return parts.length === 0 ? null : parts.join("/");
}

/**
 * Parses list text: one image per line, `relative/path` or `relative/path<TAB or spaces>label`
 * (label an integer >= -1; a path may contain spaces when a tab separates the label, or when the
 * last word is not an integer). Blank lines and lines starting with `#` are skipped. Absolute
 * paths, paths leaving the root and duplicates are a `DataError` naming the line. `name` is the
 * list file's name for messages; `labels.root` names the folder the paths are relative to
 * (default "image root").
 */
export function parseImageList(
  text: string,
  name: string,
  labels: ExtractLabels = {},
): ImageEntry[] {
  const { root } = extractLabels(labels);
  const entries: ImageEntry[] = [];
  const firstLine = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${name} line ${i + 1}`;
    let path = line;
    let label = -1;
    const tab = line.lastIndexOf("\t");
    const m = tab >= 0 ? null : /^(.*\S)\s+(-?\d+)$/.exec(line);
    const labelText = tab >= 0 ? line.slice(tab + 1).trim() : m ? m[2] : null;
    if (tab >= 0) path = line.slice(0, tab).trim();
    else if (m) path = m[1];
    if (labelText !== null) {
      if (!/^-?\d+$/.test(labelText)) {
        throw new DataError(`${where}: label "${labelText}" is not an integer`);
      }
      label = Number(labelText);
      if (!Number.isSafeInteger(label) || label < -1 || label > 2147483647) {
        throw new DataError(`${where}: label ${labelText} must be an integer >= -1`);
      }
    }
    const norm = normaliseRelative(path);
    if (norm === null) {
      throw new DataError(
        `${where}: "${path}" is absolute or leaves ${root}; list paths relative to ${root}`,
      );
    }
    const prev = firstLine.get(norm);
    if (prev !== undefined) {
      throw new DataError(`${where}: "${path}" duplicates line ${prev}; list each image once`);
    }
    firstLine.set(norm, i + 1);
    entries.push({ path: norm, label });
  }
  if (entries.length === 0) throw new DataError(`${name} lists no images`);
  return entries;
}

/**
 * Reads an image list file; entries keep the file's order. `labels` names the list and its root
 * in messages (default "image list", "image root").
 */
export async function readImageList(
  listPath: string,
  root: string,
  labels: ExtractLabels = {},
): Promise<ImageList> {
  const l = extractLabels(labels);
  let text: string;
  try {
    text = await Deno.readTextFile(listPath);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(`${l.list} ${listPath} not found`);
    throw err;
  }
  if (!await isDir(root)) throw new DataError(`${l.root} ${root} is not a directory`);
  return { root, entries: parseImageList(text, listPath, labels), layout: "list", ignored: 0 };
}

/**
 * SHA-256 (hex) of the list's content (`path\tlabel\n` per entry, in order): two runs with the
 * same hash process the same images with the same labels in the same order.
 */
export function listHash(entries: readonly ImageEntry[]): string {
  const h = createHash("sha256");
  for (const e of entries) h.update(`${e.path}\t${e.label}\n`);
  return h.digest("hex");
}
