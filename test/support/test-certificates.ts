import { execFileSync } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import path from "node:path";

/** A certificate authority made for one test run, in a folder: `ca.pem`, `ca.key`. */
export interface TestCa {
  dir: string;
  name: string;
  certificateFile: string;
  keyFile: string;
}

/** A certificate and key issued by a TestCa, as files. */
export interface TestCertificate {
  certificateFile: string;
  keyFile: string;
  /** SHA-256 fingerprint, as node's X509Certificate gives it: what a peer sees. */
  fingerprint256: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A self-signed CA (EC P-256, valid a day), named `name`, its files prefixed with it. */
export function makeCa(dir: string, name: string): TestCa {
  const keyFile = path.join(dir, `${name}.key`);
  const certificateFile = path.join(dir, `${name}.pem`);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile], dir);
  openssl(["req", "-x509", "-new", "-key", keyFile, "-subj", `/CN=${name}`, "-days", "1", "-out", certificateFile], dir);
  return { dir, name, certificateFile, keyFile };
}

/**
 * A certificate for `commonName` issued by `ca`, with DNS names (and 127.0.0.1) in its SAN, usable by a server and
 * a client. Written to `<file>.pem` / `<file>.key`, through a temporary file and a rename, as a rotation would be.
 */
export function issueCertificate(ca: TestCa, file: string, commonName: string, dnsNames: string[] = ["localhost"]): TestCertificate {
  const dir = ca.dir;
  const keyFile = path.join(dir, `${file}.key`);
  const certificateFile = path.join(dir, `${file}.pem`);
  const work = path.join(dir, `${file}.${process.hrtime.bigint()}`);
  const extensions = `${work}.ext`;
  writeFileSync(
    extensions,
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth,clientAuth",
      `subjectAltName=${[...dnsNames.map((name) => `DNS:${name}`), "IP:127.0.0.1"].join(",")}`,
    ].join("\n"),
  );
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${work}.key`], dir);
  openssl(["req", "-new", "-key", `${work}.key`, "-subj", `/CN=${commonName}`, "-out", `${work}.csr`], dir);
  openssl(
    ["x509", "-req", "-in", `${work}.csr`, "-CA", ca.certificateFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "1", "-extfile", extensions, "-out", `${work}.pem`],
    dir,
  );
  // The key first: a reader between the two renames sees a mismatched pair at worst, which the gateway refuses and logs.
  renameSync(`${work}.key`, keyFile);
  renameSync(`${work}.pem`, certificateFile);
  return { certificateFile, keyFile, fingerprint256: new X509Certificate(readFileSync(certificateFile)).fingerprint256 };
}
