import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { ScryptParams } from '../auth/password.ts';
import { isValidPrincipalName } from '../auth/principal.ts';
import { createSelfSigned, DEFAULT_CERT_HOSTS } from '../edge/certificate.ts';
import { addUserToFile } from '../edge/users-file.ts';

/** The `user` and `cert` commands of edge mode (users file, self-signed TLS certificate). */

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...list(value)];

/** Reads a password: hidden from a terminal, or the first line of standard input when it is piped. */
async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '');
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolvePromise, reject) => {
    let typed = '';
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolvePromise(typed);
    };
    const onData = (data: string): void => {
      for (const ch of data) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

function fail(message: string): never {
  process.stderr.write(`syncline: ${message}\n`);
  process.exit(2);
}

interface UserAddOptions {
  file: string;
  password?: string;
  channels?: string[];
  roles?: string[];
}

interface CertCreateOptions {
  out: string;
  host?: string[];
  days: number;
}

export function addEdgeCommands(program: Command, scrypt: () => ScryptParams | undefined): void {
  const user = program.command('user').description('manage the users file of edge mode (top-level "users" of the config)');
  user
    .command('add')
    .description('add a user to the users file, or set its password (and channels/roles); creates the file')
    .argument('<name>', 'user name')
    .option('-f, --file <file>', 'users file', 'users.json')
    .option('-p, --password <password>', 'password (default: prompted for, or read from standard input)')
    .option('--channels <list>', 'admin channels, comma-separated (default: unchanged, or none)', list)
    .option('--roles <list>', 'admin roles, comma-separated (default: unchanged, or none)', list)
    .action(async (name: string, opts: UserAddOptions) => {
      if (!isValidPrincipalName(name) || name === 'GUEST') fail(`invalid user name "${name}"`);
      const password = opts.password ?? (await readPassword('Password: '));
      if ([...password].length < 3) fail('the password must be at least 3 characters');
      const file = resolve(opts.file);
      try {
        const { created } = await addUserToFile(file, name, { password, channels: opts.channels, roles: opts.roles, scrypt: scrypt() });
        process.stdout.write(`${created ? 'added' : 'updated'} user "${name}" in ${file}\n`);
      } catch (err) {
        fail((err as Error).message);
      }
    });

  const cert = program.command('cert').description('TLS certificates for the "https" config');
  cert
    .command('create')
    .description('write a self-signed certificate (cert.pem) and key (key.pem); prints the certificate and its SHA-256 fingerprint for pinning')
    .option('-o, --out <dir>', 'directory to write cert.pem and key.pem to', '.')
    .option('--host <name>', `DNS name or IP address of the server (repeatable or comma-separated; default: ${DEFAULT_CERT_HOSTS.join(', ')})`, collect)
    .option('--days <n>', 'validity in days', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive number of days is required');
      return n;
    }, 365)
    .action(async (opts: CertCreateOptions) => {
      const made = await createSelfSigned({ ...(opts.host ? { hosts: opts.host } : {}), days: opts.days });
      const dir = resolve(opts.out);
      await mkdir(dir, { recursive: true });
      const certFile = join(dir, 'cert.pem');
      const keyFile = join(dir, 'key.pem');
      await writeFile(certFile, made.cert);
      await writeFile(keyFile, made.key, { mode: 0o600 });
      process.stdout.write(
        `wrote ${certFile} and ${keyFile}\n` +
          `config: "https": { "tls_cert_path": ${JSON.stringify(certFile)}, "tls_key_path": ${JSON.stringify(keyFile)} }\n\n` +
          `${made.cert.trimEnd()}\n\n` +
          `SHA256 Fingerprint=${made.fingerprint}\n`,
      );
    });
}
