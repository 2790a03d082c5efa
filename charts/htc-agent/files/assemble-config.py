import json, os, sys
public_file, secret_dir, target = sys.argv[1:4]
with open(public_file) as f:
    config = json.load(f)
for key in sys.argv[4:]:
    with open(os.path.join(secret_dir, key)) as f:
        config[key] = f.read()
fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o440)
with os.fdopen(fd, "w") as f:
    json.dump(config, f)
