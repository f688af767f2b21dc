/**
 * The four OOD test sets of the MOS paper and their installation: download (resumable, size-capped,
 * time-limited), unpack all-or-nothing within bounds derived from the set's image count, and check
 * the image count.
 *
 * iNaturalist, SUN and Places are the curated 10,000-image subsets the paper's authors published
 * with the code (github.com/deeplearning-wisc/large_scale_ood: concepts disjoint from
 * ImageNet-1k); Textures is the whole Describable Textures Dataset (5,640 images) from its
 * authors' site, used as the released code does (`dtd/images`, 47 class folders).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { countImages, removeDeadUnpacks, unpackArchive, type UnpackLimits } from "./archive.ts";
import { asDiskWriteError, DiskWriteError } from "./disk_errors.ts";
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

/**
 * Average bytes per image a set may take. The sets are JPEG photographs (DTD: 300 to 640 pixels a
 * side, 5,640 images in a 0.6 GB archive, ~110 KB each); 2 MiB each on average is over ten times
 * what they take, so no genuine copy comes near it, while a bomb is stopped at a known size.
 */
export const MAX_AVG_IMAGE_BYTES = 2 * 2 ** 20;

/** Bytes a set's archive may hold besides its images (DTD ships labels/ and imdb/ files). */
export const MAX_EXTRA_BYTES = 64 * 2 ** 20;

/** Bytes one member may hold: 64 MiB is a 16,000-pixel-square JPEG, far beyond these sets. */
export const MAX_MEMBER_BYTES = 64 * 2 ** 20;

/**
 * Inflated bytes per compressed byte a set's `.tar.gz` may reach. JPEG data does not deflate (a
 * tar of JPEGs gzips to ~95% of its size), so 8-fold is out of reach for any real copy; it is
 * checked only past {@linkcode EXPANSION_FLOOR}, as the tar headers of tiny files compress well.
 */
export const MAX_EXPANSION = 8;

/** Inflated bytes before {@linkcode MAX_EXPANSION} applies. */
export const EXPANSION_FLOOR = 64 * 2 ** 20;

/**
 * What a set's archive may unpack to, derived from its image count:
 * - bytes: images x {@linkcode MAX_AVG_IMAGE_BYTES} + {@linkcode MAX_EXTRA_BYTES};
 * - entries: 2 x images + 1,000 (one file per image, class folders, DTD's label files: the
 *   published sets have at most 110 folders and ~40 extra files);
 * - one member: {@linkcode MAX_MEMBER_BYTES}; expansion: {@linkcode MAX_EXPANSION}.
 *
 * iNaturalist, SUN and Places (10,000 images) may unpack to ~19.6 GiB and 21,000 entries;
 * Textures (5,640) to ~11.1 GiB and 12,280 entries.
 */
export function oodSetLimits(spec: OodSetSpec): UnpackLimits {
  return {
    maxBytes: spec.images * MAX_AVG_IMAGE_BYTES + MAX_EXTRA_BYTES,
    maxEntries: 2 * spec.images + 1000,
    maxEntryBytes: MAX_MEMBER_BYTES,
    maxExpansion: MAX_EXPANSION,
    expansionFloor: EXPANSION_FLOOR,
    what: `${spec.name} (${spec.images.toLocaleString("en-US")} images)`,
  };
}

/**
 * The most bytes a set's archive download may be: its unpacked bound plus the tar and gzip framing
 * (a `.tar.gz` of images is barely smaller than the images).
 */
export function oodArchiveCap(spec: OodSetSpec): number {
  const l = oodSetLimits(spec);
  return l.maxBytes + l.maxEntries * 8192;
}

/** The set with key or name `name` (case-insensitive), or undefined. */
export function findOodSet(name: string): OodSetSpec | undefined {
  const n = name.toLowerCase();
  return OOD_SETS.find((s) => s.key === n || s.name.toLowerCase() === n);
}

/** Options of {@linkcode installOodSet}. */
export interface InstallOptions {
  /**
   * Parent folder: the set goes to `<dest>/<name>`, archives to `<dest>/.downloads/`. The caller
   * holds its lock (lib/io/lock.ts), so unpack folders of dead runs there can be removed.
   */
  dest: string;
  /** Base URL serving the same archive file names (a local mirror); default the published URL. */
  mirror?: string;
  /**
   * What to check when the server's answer is not the published archive (default "the URL"; a
   * task may name its flag, see `DownloadOptions.sourceHint`).
   */
  sourceHint?: string;
  /** Keep the archive after a verified unpack (default: delete it). */
  keepArchive?: boolean;
  /** Download progress: bytes so far, total (null when unknown). */
  onDownload?: (done: number, total: number | null) => void;
  /** Unpack progress: archive bytes read, archive size. */
  onUnpack?: (read: number, total: number) => void;
  /** A download that receives nothing for this long stops (default 60 s); it resumes on rerun. */
  idleTimeoutMs?: number;
  /** A download still running after this long stops (default: no limit); it resumes on rerun. */
  timeLimitMs?: number;
  /** Bounds of the unpack (default {@linkcode oodSetLimits}). */
  limits?: UnpackLimits;
  /** The most bytes the download may be (default {@linkcode oodArchiveCap}). */
  maxArchiveBytes?: number;
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

/**
 * Throws a `DataError` unless `dir` holds exactly `spec.images` non-empty image files; `label`
 * names `dir` in the message (e.g. the archive's folder, when `dir` is a temp directory).
 */
export async function verifyOodSet(
  spec: OodSetSpec,
  dir: string,
  label: string = dir,
): Promise<{ images: number; bytes: number }> {
  const c = await countImages(dir);
  if (c.images !== spec.images || c.empty > 0) {
    throw new DataError(
      `${spec.name}: ${label} holds ${c.images} image files` +
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
 * The record `<archive>.fetched.json` that an archive in `.downloads/` was downloaded by this
 * code (URL and size): only such an archive is ever deleted. One a user put there is used but
 * left alone.
 */
interface FetchedRecord {
  url: string;
  bytes: number;
}

async function fetchedByUs(archive: string): Promise<boolean> {
  try {
    const rec = JSON.parse(await Deno.readTextFile(`${archive}.fetched.json`)) as FetchedRecord;
    return rec.bytes === (await Deno.stat(archive)).size;
  } catch {
    return false;
  }
}

async function dropArchive(archive: string): Promise<void> {
  await Deno.remove(archive).catch(() => {});
  await Deno.remove(`${archive}.fetched.json`).catch(() => {});
}

/**
 * Installs one OOD set into `<dest>/<name>`: reuses a verified copy, else downloads the archive
 * (resuming an interrupted download), unpacks it all-or-nothing and checks the image count. A
 * corrupt archive, one beyond the set's bounds or a wrong count leaves no `<dest>/<name>` and
 * deletes the archive if this code downloaded it (a rerun downloads it afresh). A full disk keeps
 * the archive; network failures keep the partial download for the next run. An existing
 * `<dest>/<name>` is never changed or deleted.
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
  await removeDeadUnpacks(dest);
  const downloads = `${dest}/.downloads`;
  try {
    await Deno.mkdir(downloads, { recursive: true });
  } catch (err) {
    throw asDiskWriteError(err, downloads, "nothing was downloaded yet");
  }
  // Removes .downloads only while it is empty (not recursive): a kept partial download or archive,
  // or anything else put there, keeps it.
  const tidy = async () => {
    await Deno.remove(downloads).catch(() => {});
  };
  const archive = `${downloads}/${spec.file}`;
  const url = oodSetUrl(spec, opts.mirror);
  let download: DownloadResult;
  try {
    download = await downloadFile({
      url,
      dest: archive,
      maxBytes: opts.maxArchiveBytes ?? oodArchiveCap(spec),
      what: `the ${spec.name} archive`,
      sourceHint: opts.sourceHint,
      onProgress: opts.onDownload,
      idleTimeoutMs: opts.idleTimeoutMs,
      timeLimitMs: opts.timeLimitMs,
    });
    if (!download.reused) {
      // Not atomic on purpose: a torn record does not parse, which only makes the archive count
      // as not ours (kept), the safe side.
      const rec: FetchedRecord = { url, bytes: download.bytes };
      const path = `${archive}.fetched.json`;
      await Deno.writeTextFile(path, JSON.stringify(rec) + "\n").catch((err) => {
        throw asDiskWriteError(err, path, "the downloaded archive is kept");
      });
    }
  } catch (err) {
    await tidy();
    throw err;
  }
  const ours = !download.reused || await fetchedByUs(archive);
  let counted = { images: 0, bytes: 0 };
  try {
    await unpackArchive({
      archive,
      dest: dir,
      root: spec.root,
      limits: opts.limits ?? oodSetLimits(spec),
      onProgress: opts.onUnpack,
      verify: async (d) => {
        counted = await verifyOodSet(spec, d, `${archive}:${spec.root}/`);
      },
    });
  } catch (err) {
    if (!(err instanceof DataError) || err instanceof DiskWriteError) throw err;
    if (!ours) {
      throw new DataError(
        `${err.message}; ${archive} was not downloaded by fetch-ood and is left alone: move it ` +
          "away and rerun to download the set",
      );
    }
    await dropArchive(archive);
    await tidy();
    throw new DataError(`${err.message}; the archive was deleted, rerun to download it again`);
  }
  if (!opts.keepArchive && ours) await dropArchive(archive);
  await tidy();
  return { dir, ...counted, present: false, download };
}
