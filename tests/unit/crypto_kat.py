#!/usr/bin/env python3
"""Known answers of tests/unit/test_crypto.c, computed without cohort.

Usage: crypto_kat.py [VERSION]   (the header's version byte, default 2)

XChaCha20-Poly1305 is HChaCha20 (written out below) then the IETF
ChaCha20-Poly1305 of the 'cryptography' package; AES-256-GCM takes the
key BLAKE2b(key=group key, "cohort aes256gcm" | sender | incarnation |
group) and the nonce packet_seq | 00000000 (docs/protocol.md, Security).
"""
import struct, hashlib, sys
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305, AESGCM
def rotl(v,c): return ((v<<c)&0xffffffff)|(v>>(32-c))
def qr(s,a,b,c,d):
    s[a]=(s[a]+s[b])&0xffffffff; s[d]^=s[a]; s[d]=rotl(s[d],16)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]^=s[c]; s[b]=rotl(s[b],12)
    s[a]=(s[a]+s[b])&0xffffffff; s[d]^=s[a]; s[d]=rotl(s[d],8)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]^=s[c]; s[b]=rotl(s[b],7)
def hchacha(key, n16):
    s=list(struct.unpack('<4I',b'expand 32-byte k'))+list(struct.unpack('<8I',key))+list(struct.unpack('<4I',n16))
    for _ in range(10):
        qr(s,0,4,8,12);qr(s,1,5,9,13);qr(s,2,6,10,14);qr(s,3,7,11,15)
        qr(s,0,5,10,15);qr(s,1,6,11,12);qr(s,2,7,8,13);qr(s,3,4,9,14)
    return struct.pack('<8I',*(s[0:4]+s[12:16]))
def xseal(key,nonce,pt,aad):
    sub=hchacha(key,nonce[:16]); return ChaCha20Poly1305(sub).encrypt(b'\0'*4+nonce[16:],pt,aad)
KEY=bytes(range(32)); BODY=b"The quick brown fox jumps over the lazy dog"
ver=int(sys.argv[1]) if len(sys.argv) > 1 else 2
def hdr(flags,key_id,blen,seq):
    return bytes([0x43,0x48,ver,1,flags,key_id])+struct.pack('>HIIIQQ',blen,0x11223344,0x0A0B0C0D,0xCAFEBABE,seq,0)
seq=0x0102030405060708
def nonce(h): return h[12:16]+h[16:20]+h[20:28]+h[8:12]+b'\0'*4
# auth: flags SECURED=1
h=hdr(1,7,len(BODY),seq); d=h+BODY
print("auth tag", xseal(KEY,nonce(h),b'',d).hex())
h=hdr(3,7,len(BODY),seq); out=xseal(KEY,nonce(h),BODY,h)
print("enc ct", out[:-16].hex(), "tag", out[-16:].hex())
k=hashlib.blake2b(b'cohort aes256gcm'+struct.pack('>III',0x0A0B0C0D,0xCAFEBABE,0x11223344),key=KEY,digest_size=32).digest()
a=AESGCM(k); n=struct.pack('>Q',seq)+b'\0'*4
h=hdr(1|4,7,len(BODY),seq); print("aes auth tag", a.encrypt(n,b'',h+BODY).hex())
h=hdr(1|2|4,7,len(BODY),seq); out=a.encrypt(n,BODY,h); print("aes enc ct", out[:-16].hex(),"tag",out[-16:].hex())
