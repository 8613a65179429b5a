import pty, os, sys, time, select
cmd = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", cmd + "; echo '--- driftwatch done, root shell reads tty:'; sh"])
out=b""; end=time.time()+40; sent=False
while time.time()<end:
    r,_,_=select.select([fd],[],[],0.5)
    if r:
        try: d=os.read(fd,4096)
        except OSError: break
        if not d: break
        out+=d
    if b"driftwatch done" in out and not sent and time.time():
        time.sleep(1.5); os.write(fd,b"exit\n"); sent=True
sys.stdout.write(out.decode(errors="replace"))
