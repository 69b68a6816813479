import type { DeviceOptions } from "./options.js";
import { DeviceError, addDevice, devicesFile, readDevices, removeDevice } from "./site-devices.js";

/**
 * `ferry device add|remove|list`: the site's named device users in `<data>/nats/devices.json`. A running
 * `ferry start` picks changes up within a second or so; a site not running reads them at its next start.
 */
export async function deviceCommand(command: "device add" | "device remove" | "device list", o: DeviceOptions): Promise<number> {
  const file = devicesFile(o.data);
  const wanted = command === "device list" ? 0 : 1;
  if (o.args.length !== wanted) {
    process.stderr.write(`ferry: usage: ferry ${command}${wanted ? " NAME" : ""}\n`);
    return 2;
  }
  try {
    if (command === "device add") {
      const password = await addDevice(file, o.args[0]!);
      // Printed once: only its bcrypt hash is kept.
      process.stdout.write(`${password}\n`);
      process.stderr.write(`device ${o.args[0]!} added: it logs in to NATS as user "${o.args[0]!}" with the password above (shown only now)\n`);
    } else if (command === "device remove") {
      await removeDevice(file, o.args[0]!);
      process.stderr.write(`device ${o.args[0]!} removed: the site refuses it from its next reload (a second or so)\n`);
    } else {
      for (const [name, d] of Object.entries(await readDevices(file))) process.stdout.write(`${name}\t${d.created}\n`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof DeviceError)) throw err;
    process.stderr.write(`ferry: ${err.message} (${err.code})\n`);
    return 1;
  }
}
