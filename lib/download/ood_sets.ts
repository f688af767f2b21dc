/**
 * The four OOD test sets of the MOS paper and their installation: download (resumable), unpack
 * all-or-nothing, and check the image count.
 *
 * iNaturalist, SUN and Places are the curated 10,000-image subsets the paper's authors published
 * with the code (github.com/deeplearning-wisc/large_scale_ood: concepts disjoint from
 * ImageNet-1k); Textures is the whole Describable Textures Dataset (5,640 images) from its
 * authors' site, used as the released code does (`dtd/images`, 47 class folders).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { countImages, unpackArchive } from "./archive.ts";
import { downloadFile, type DownloadResult } from "./http_download.ts";

/** One OOD set: where it is published and what a correct copy holds. */
export interface OodSetSpec {
  /** Lower-case key used by `--only` (`inaturalist`, `sun`, `places`, `textures`). */
  key: string;
  /** Folder name under the destination, as the paper's tables name the set. */
  name: string;
  url: string;
  /** Archive file name (the last URL segment; a `--mirror` serves the same names). */
  file: string;
  /** Folder inside the archive whose images make up the set. */
  root: string;
  /** Image files a complete copy holds. */
  images: number;
  /** Where the set comes from, for messages and the README. */
  source: string;
}

/** The four OOD sets, in the paper's table order. */
export const OOD_SETS: readonly OodSetSpec[] = [
  {
    key: "inaturalist",
    name: "iNaturalist",
    url: "http://pages.cs.wisc.edu/~huangrui/imagenet_ood_dataset/iNaturalist.tar.gz",
    file: "iNaturalist.tar.gz",
    root: "iNaturalist",
    images: 10000,
    source: "MOS authors' curated subset (110 plant classes not in ImageNet-1k)",
  },
  {
    key: "sun",
    name: "SUN",
    url: "http://pages.cs.wisc.edu/~huangrui/imagenet_ood_dataset/SUN.tar.gz",
    file: "SUN.tar.gz",
    root: "SUN",
    images: 10000,
    source: "MOS authors' curated subset (50 nature-related SUN concepts not in ImageNet-1k)",
  },
  {
    key: "places",
    name: "Places",
    url: "http://pages.cs.wisc.edu/~huangrui/imagenet_ood_dataset/Places.tar.gz",
    file: "Places.tar.gz",
    root: "Places",
    images: 10000,
    source: "MOS authors' curated subset (50 Places365 categories not in ImageNet-1k)",
  },
  {
    key: "textures",
    name: "Textures",
    url: "https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz",
    file: "dtd-r1.0.1.tar.gz",
    root: "dtd/images",
    images: 5640,
    source: "Describable Textures Dataset r1.0.1 (Cimpoi et al. 2014), all 5,640 images",
  },
];

/** The set with key or name `name` (case-insensitive), or undefined. */
export function findOodSet(name: string): OodSetSpec | undefined {
  const n = name.toLowerCase();
  return OOD_SETS.find((s) => s.key === n || s.name.toLowerCase() === n);
}

/** Options of {@linkcode installOodSet}. */
export interface InstallOptions {
  /** Parent folder: the set goes to `<dest>/<name>`, archives to `<dest>/.downloads/`. */
  dest: string;
  /** Base URL serving the same archive file names (a local mirror); default the published URL. */
  mirror?: string;
  /** Keep the archive after a verified unpack (default: delete it). */
  keepArchive?: boolean;
  /** Download progress: bytes so far, total (null when unknown). */
  onDownload?: (done: number, total: number | null) => void;
  /** Unpack progress: archive bytes read, archive size. */
  onUnpack?: (read: number, total: number) => void;
  idleTimeoutMs?: number;
}

/** What {@linkcode installOodSet} did. */
export interface InstallResult {
  dir: string;
  images: number;
  bytes: number;
  /** True when a verified copy was already there (nothing downloaded). */
  present: boolean;
  download?: DownloadResult;
}

/** Throws a `DataError` unless `dir` holds exactly `spec.images` non-empty image files. */
export async function verifyOodSet(
  spec: OodSetSpec,
  dir: string,
): Promise<{ images: number; bytes: number }> {
  const c = await countImages(dir);
  if (c.images !== spec.images || c.empty > 0) {
    throw new DataError(
      `${spec.name}: ${dir} holds ${c.images} image files` +
        (c.empty > 0 ? ` (${c.empty} empty)` : "") +
        `, expected ${spec.images.toLocaleString("en-US")} non-empty ones; the download is ` +
        "incomplete or not the published archive",
    );
  }
  return { images: c.images, bytes: c.bytes };
}

/** URL of a set's archive, on `mirror` when given. */
export function oodSetUrl(spec: OodSetSpec, mirror?: string): string {
  return mirror ? `${mirror.replace(/\/+$/, "")}/${spec.file}` : spec.url;
}

/**
 * Installs one OOD set into `<dest>/<name>`: reuses a verified copy, else downloads the archive
 * (resuming an interrupted download), unpacks it all-or-nothing and checks the image count. A
 * corrupt archive or a wrong count deletes the archive (a rerun downloads it afresh) and leaves
 * no `<dest>/<name>`. Network failures keep the partial download for the next run.
 */
export async function installOodSet(
  spec: OodSetSpec,
  opts: InstallOptions,
): Promise<InstallResult> {
  const dest = opts.dest.replace(/\/+$/, "") || ".";
  const dir = `${dest}/${spec.name}`;
  let present = false;
  try {
    present = (await Deno.stat(dir)).isDirectory;
  } catch { /* not there */ }
  if (present) {
    try {
      const v = await verifyOodSet(spec, dir);
      return { dir, ...v, present: true };
    } catch (err) {
      if (!(err instanceof DataError)) throw err;
      throw new DataError(`${err.message}; delete ${dir} and rerun to download it again`);
    }
  }
  const downloads = `${dest}/.downloads`;
  await Deno.mkdir(downloads, { recursive: true });
  const archive = `${downloads}/${spec.file}`;
  let download: DownloadResult;
  try {
    download = await downloadFile({
      url: oodSetUrl(spec, opts.mirror),
      dest: archive,
      onProgress: opts.onDownload,
      idleTimeoutMs: opts.idleTimeoutMs,
    });
  } catch (err) {
    await Deno.remove(downloads).catch(() => {}); // only when nothing was kept for a resume
    throw err;
  }
  let counted = { images: 0, bytes: 0 };
  try {
    await unpackArchive({
      archive,
      dest: dir,
      root: spec.root,
      onProgress: opts.onUnpack,
      verify: async (d) => {
        counted = await verifyOodSet(spec, d);
      },
    });
  } catch (err) {
    if (!(err instanceof DataError)) throw err;
    await Deno.remove(archive).catch(() => {});
    await Deno.remove(downloads).catch(() => {}); // only when empty
    throw new DataError(`${err.message}; the archive was deleted, rerun to download it again`);
  }
  if (!opts.keepArchive) await Deno.remove(archive).catch(() => {});
  await Deno.remove(downloads).catch(() => {}); // only when empty
  return { dir, ...counted, present: false, download };
}
