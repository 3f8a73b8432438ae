/** Key types OpenSSH accepts for host keys, as the first field of an authorized_keys line. */
export const HOST_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

/**
 * Why `line` is not one public key in authorized_keys format, or undefined when it is. The key data is
 * decoded: its first field must name the same key type as the line (what `ssh-keygen -l -f` checks).
 */
export function hostKeyProblem(line: string): string | undefined {
  const trimmed = line.trim();
  if (trimmed.includes("\n")) return "it holds more than one line";
  const [type, data] = trimmed.split(/\s+/);
  if (!HOST_KEY_TYPES.includes(type)) return `its key type ${JSON.stringify(type)} is not one of ${HOST_KEY_TYPES.join(", ")}`;
  if (data === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) return "its key data is not base64";
  const blob = Buffer.from(data, "base64");
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const embedded = length >= 0 && length <= blob.length - 4 ? blob.subarray(4, 4 + length).toString("latin1") : undefined;
  if (embedded !== type) return `its key data is not a ${type} key`;
  return undefined;
}
