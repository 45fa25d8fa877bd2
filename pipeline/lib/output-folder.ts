/**
 * The output folder's neighbours: the staging folder a build writes into, and the lock that keeps two
 * builds from writing the same output folder at once. Both live beside the output folder, so the final
 * rename stays on one file system.
 */
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { EnvironmentError } from './errors.ts';

function sibling(outDir: string, suffix: string): string {
  return path.join(path.dirname(outDir), `.${path.basename(outDir)}.${suffix}`);
}

/** A fresh staging folder path for one build of `outDir`. */
export function stagingPath(outDir: string): string {
  return sibling(outDir, `staging-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** The lock file of an output folder. */
export function lockPath(outDir: string): string {
  return sibling(outDir, 'lock');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A held lock; release it in `finally`. */
export interface OutputLock {
  release(): Promise<void>;
}

/**
 * Makes sure the output folder's parent exists and is writable, recovers from an interrupted earlier
 * build, and takes the lock. A second build on the same folder is refused while the first runs; a
 * lock left by a process that died is taken over.
 */
export async function lockOutputFolder(outDir: string): Promise<OutputLock> {
  const parent = path.dirname(outDir);
  try {
    await mkdir(parent, { recursive: true });
    await access(parent, constants.W_OK);
  } catch (cause) {
    throw new EnvironmentError(
      `Cannot write beside the output folder \`${outDir}\`: no permission to write in \`${parent}\`.`,
      {
        cause,
      },
    );
  }
  const existing = await stat(outDir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new EnvironmentError(`The output path \`${outDir}\` exists and is not a folder.`);
  }
  if (existing) {
    try {
      await access(outDir, constants.W_OK);
    } catch (cause) {
      throw new EnvironmentError(`Cannot replace the output folder \`${outDir}\`: it is not writable.`, {
        cause,
      });
    }
  }

  const file = lockPath(outDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      await recoverInterruptedBuilds(outDir);
      return { release: () => rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new EnvironmentError(`Cannot create the lock file \`${file}\`.`, { cause: error });
      }
      const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new EnvironmentError(
          `Another build (process ${pid}) is writing to \`${outDir}\`; wait for it to finish, or use another --out folder.`,
        );
      }
      // The process that held the lock is gone: the lock is stale.
      await rm(file, { force: true });
    }
  }
  throw new EnvironmentError(`Cannot take the lock \`${file}\` of the output folder.`);
}

/**
 * Cleans up after a build that was killed: staging folders of dead processes are removed, and an
 * output folder moved aside but never replaced is put back.
 */
async function recoverInterruptedBuilds(outDir: string): Promise<void> {
  const parent = path.dirname(outDir);
  const prefix = `.${path.basename(outDir)}.staging-`;
  const names = await readdir(parent).catch(() => [] as string[]);
  const outExists = await stat(outDir).then(
    () => true,
    () => false,
  );
  for (const name of names.filter((entry) => entry.startsWith(prefix))) {
    const pid = Number.parseInt(name.slice(prefix.length), 10);
    if (pid === process.pid || (Number.isInteger(pid) && isAlive(pid))) continue;
    const full = path.join(parent, name);
    if (name.endsWith('.previous') && !outExists) {
      await rename(full, outDir);
      continue;
    }
    await rm(full, { recursive: true, force: true });
  }
}

/** `renameat2`'s arguments for two paths relative to the working folder, exchanged. */
const atCurrentFolder = -100;
const renameExchange = 2;

let exchangeCall: ((from: string, to: string) => number) | null | undefined;

/**
 * Exchanges two folders in one step (Linux's `renameat2` with `RENAME_EXCHANGE`, through koffi), so
 * that `to` is never missing, not even to a build killed at that moment. False where the system or
 * the file system cannot (another platform, an old C library, a file system without it): the caller
 * then moves the old folder aside and the new one in, which a build killed in between leaves for the
 * next build to put back.
 */
export async function exchangeFolders(from: string, to: string): Promise<boolean> {
  if (exchangeCall === undefined) {
    exchangeCall = null;
    if (process.platform === 'linux') {
      try {
        const { default: koffi } = await import('koffi');
        const renameat2 = koffi
          .load('libc.so.6')
          .func(
            'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)',
          );
        exchangeCall = (a, b) => renameat2(atCurrentFolder, a, atCurrentFolder, b, renameExchange) as number;
      } catch {
        // No koffi, no C library by that name, or no renameat2 in it: the two-step move.
      }
    }
  }
  return exchangeCall ? exchangeCall(path.resolve(from), path.resolve(to)) === 0 : false;
}
