# An independent check of testdata/vector.txt: RFC 8032 section 6 arithmetic
# in plain Python, with the nonce derivation of package hedged.
# Run: python3 vector.py
import hashlib
p=2**255-19; L=2**252+27742317777372353535851937790883648493
d=-121665*pow(121666,p-2,p)%p
def inv(x): return pow(x,p-2,p)
def add(P,Q):
    x1,y1,z1,t1=P; x2,y2,z2,t2=Q
    A=(y1-x1)*(y2-x2)%p; B=(y1+x1)*(y2+x2)%p; C=t1*2*d*t2%p; D=z1*2*z2%p
    E,F,G,H=B-A,D-C,D+C,B+A
    return (E*F%p,G*H%p,F*G%p,E*H%p)
def mul(s,P):
    Q=(0,1,1,0)
    while s>0:
        if s&1: Q=add(Q,P)
        P=add(P,P); s>>=1
    return Q
def recover_x(y,sign):
    x2=(y*y-1)*inv(d*y*y+1); x=pow(x2,(p+3)//8,p)
    if (x*x-x2)%p!=0: x=x*pow(2,(p-1)//4,p)%p
    if x&1!=sign: x=p-x
    return x
gy=4*inv(5)%p; gx=recover_x(gy,0); G=(gx,gy,1,gx*gy%p)
def enc(P):
    x,y,z,t=P; zi=inv(z); x=x*zi%p; y=y*zi%p
    return int.to_bytes(y|((x&1)<<255),32,'little')
H=lambda m: hashlib.sha512(m).digest()
seed=bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
h=H(seed); a=int.from_bytes(h[:32],'little'); a&=(1<<254)-8; a|=1<<254; prefix=h[32:]
A=enc(mul(a,G)); M=b"1767225600"; Z=bytes(range(32))+bytes(96)
r=int.from_bytes(H(Z+prefix+M),'little')%L
R=enc(mul(r,G)); k=int.from_bytes(H(R+A+M),'little')%L
S=(r+k*a)%L
print((R+int.to_bytes(S,32,'little')).hex())
